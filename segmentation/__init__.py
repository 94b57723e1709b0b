"""Segment Workbench: unsupervised, dynamic customer segmentation for marketing teams."""

__version__ = "0.1.0"
