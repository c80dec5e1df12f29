"""Places orthopaedic implants on the bones of a scene: the constructs that carry the labelled
screws (nail, plate, lag screws) and the metal that is never labelled (wires, staples, ex-fix,
joint replacements).

Reads only ``scene.sites``, ``scene.body_part``, ``scene.view`` and ``scene.spacing_mm``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from orthogui.synth.distractors import (
    build_cerclage,
    build_external_fixator,
    build_kirschner_wires,
    build_staples,
)
from orthogui.synth.implants import (
    build_lag_screws,
    build_nail,
    build_plate,
    free_lag_screws,
)
from orthogui.synth.phantom import Scene
from orthogui.synth.prostheses import build_joint_replacement, joint_site_ok
from orthogui.synth.screws import SCREW_TYPES
from orthogui.synth.sites import BoneSite

HARDWARE_KINDS: tuple[str, ...] = (
    "intramedullary_nail",
    "plate",
    "kirschner_wire",
    "cerclage_wire",
    "staple",
    "external_fixator",
    "joint_replacement",
)

Builder = Callable[[Scene, np.random.Generator, BoneSite, list[str]], list[str]]

BUILDERS: dict[str, Builder] = {
    "intramedullary_nail": build_nail,
    "plate": build_plate,
    "kirschner_wire": build_kirschner_wires,
    "cerclage_wire": build_cerclage,
    "staple": build_staples,
    "external_fixator": build_external_fixator,
    "joint_replacement": build_joint_replacement,
}

# How likely each kind is per body part when the caller does not choose (relative weights).
KIND_WEIGHTS: dict[str, dict[str, float]] = {
    "hand_wrist": {"kirschner_wire": 4, "plate": 3, "staple": 1, "external_fixator": 0.7},
    "forearm": {"plate": 5, "intramedullary_nail": 1, "kirschner_wire": 1, "external_fixator": 0.7},
    "elbow": {"kirschner_wire": 3, "cerclage_wire": 2, "plate": 3},
    "shoulder": {
        "plate": 3,
        "intramedullary_nail": 1.5,
        "joint_replacement": 2,
        "kirschner_wire": 1,
    },
    "hip_femur": {
        "intramedullary_nail": 4,
        "plate": 3,
        "joint_replacement": 3,
        "cerclage_wire": 1,
    },
    "knee": {
        "plate": 3,
        "intramedullary_nail": 2,
        "joint_replacement": 3,
        "cerclage_wire": 1,
        "staple": 0.7,
    },
    "leg_ankle": {
        "intramedullary_nail": 4,
        "plate": 4,
        "external_fixator": 1.5,
        "kirschner_wire": 1,
        "staple": 0.5,
    },
    "foot": {"kirschner_wire": 3, "staple": 2, "plate": 2},
    "": {
        "intramedullary_nail": 3,
        "plate": 4,
        "kirschner_wire": 1,
        "cerclage_wire": 1,
        "staple": 0.5,
        "external_fixator": 1,
        "joint_replacement": 0.5,
    },
}


def _nail_ok(site: BoneSite) -> bool:
    lo, hi = site.s_range
    return site.canal_radius_mm >= 1.5 and hi - lo >= 60.0


def _site_ok(kind: str, site: BoneSite, scene: Scene) -> bool:
    if kind == "intramedullary_nail":
        return _nail_ok(site)
    if kind == "joint_replacement":
        return joint_site_ok(site, scene)
    if kind == "external_fixator":
        return site.radius_mm >= 3.0
    return True


def _pick_site(rng: np.random.Generator, sites: list[BoneSite]) -> BoneSite:
    """Prefer a fractured bone, then the larger ones."""
    broken = [s for s in sites if s.fracture_s is not None]
    pool = broken if broken and rng.random() < 0.85 else sites
    weights = np.array([s.radius_mm * (s.s_range[1] - s.s_range[0]) for s in pool]) + 1e-3
    return pool[int(rng.choice(len(pool), p=weights / weights.sum()))]


def _choose_kinds(rng: np.random.Generator, scene: Scene, has_screws: bool) -> list[str]:
    weights = KIND_WEIGHTS.get(scene.body_part, KIND_WEIGHTS[""])
    sites: list[BoneSite] = list(scene.sites)
    names = [k for k in weights if any(_site_ok(k, s, scene) for s in sites)]
    if not names or (not has_screws and rng.random() < 0.25):
        return []
    p = np.array([weights[k] for k in names], dtype=np.float64)
    n = int(rng.choice([1, 1, 1, 2, 2, 3]))
    picked = rng.choice(len(names), size=min(n, len(names)), replace=False, p=p / p.sum())
    kinds = [names[int(i)] for i in picked]
    # Screws need a carrier more often than not.
    if has_screws and not {"plate", "intramedullary_nail"} & set(kinds) and rng.random() < 0.6:
        carriers = [k for k in ("plate", "intramedullary_nail") if k in names]
        if carriers:
            kinds.insert(0, str(rng.choice(carriers)))
    # One implant per medullary canal: a nail and a stemmed prosthesis exclude each other.
    if "intramedullary_nail" in kinds and "joint_replacement" in kinds:
        kinds.remove(str(rng.choice(["intramedullary_nail", "joint_replacement"])))
    return kinds


def place_hardware(
    scene: Scene,
    rng: np.random.Generator,
    *,
    screw_types: list[str],
    kinds: list[str] | None = None,
) -> None:
    """Place implants on the bones of ``scene``, with the requested screws inside them.

    Parameters
    ----------
    scene
        A scene whose ``sites`` describe the bones drawn; its metal map and ``instances``
        (the screws only) and ``hardware`` (everything else) are extended in place.
    rng
        The only source of randomness.
    screw_types
        One labelled screw per entry (names from ``SCREW_TYPES``); screws that cannot be seen
        are dropped, as ``Scene.add_screw`` does.
    kinds
        Hardware kinds (from ``HARDWARE_KINDS``) to place where the scene has a site for them;
        ``None`` chooses plausible ones for the body part, sometimes none.

    Raises
    ------
    ValueError
        For an unknown hardware kind or screw type.
    """
    bad = [k for k in (kinds or []) if k not in BUILDERS]
    if bad:
        raise ValueError(f"unknown hardware kind(s) {bad}; known: {list(HARDWARE_KINDS)}")
    unknown = [t for t in screw_types if t not in SCREW_TYPES]
    if unknown:
        raise ValueError(f"unknown screw type(s) {unknown}; known: {list(SCREW_TYPES)}")
    offered = [str(t) for t in rng.permutation(np.array(screw_types, dtype=object))]
    sites: list[BoneSite] = list(scene.sites)
    if not sites:
        free_lag_screws(scene, rng, offered)
        return
    if kinds is None:
        kinds = _choose_kinds(rng, scene, bool(offered))
    # Carriers first so they take the screws; joint replacement before wires that go around it.
    order = {k: i for i, k in enumerate(("joint_replacement", "intramedullary_nail", "plate"))}
    canal_used: set[str] = set()
    for kind in sorted(kinds, key=lambda k: order.get(k, 9)):
        pool = [s for s in sites if _site_ok(kind, s, scene)]
        if kind in ("intramedullary_nail", "joint_replacement"):
            pool = [s for s in pool if s.name not in canal_used] or pool
        if not pool:
            continue
        if kind == "joint_replacement" and scene.body_part == "knee":
            targets = pool  # total knee: femoral and tibial components together
        else:
            targets = [_pick_site(rng, pool)]
        for site in targets:
            if kind in ("intramedullary_nail", "joint_replacement"):
                canal_used.add(site.name)
            offered = BUILDERS[kind](scene, rng, site, offered)
    if offered:
        build_lag_screws(scene, rng, _pick_site(rng, sites), offered)
