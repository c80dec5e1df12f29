"""OrthoGUI: review and correct AI findings on X-rays."""

__version__ = "0.1.0"
