"""Tests of orthogui.evaluation."""
