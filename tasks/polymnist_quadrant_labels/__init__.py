from tasks.polymnist_quadrant_labels.suite import PolyMnistQuadrantLabels

__all__ = ["PolyMnistQuadrantLabels"]
