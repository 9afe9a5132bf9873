"""The embedded default data: procedural point clouds written in the two published layouts.

``write_synthetic_modelnet40`` writes 12 classes of surfaces (sphere, box, cylinder, cone, torus,
pyramid, capsule, bowl, octahedron, helix, cross, hourglass); ``write_synthetic_shapenetpart``
writes 5 part-labelled object categories (Airplane, Lamp, Mug, Rocket, Table) in the standard
16-category / 50-part label space. Both are deterministic from a seed and take a second or two.
"""

from pointea.data.synthetic.classification import CLASS_NAMES, generate_classification
from pointea.data.synthetic.parts import PART_CATEGORIES, generate_parts
from pointea.data.synthetic.sets import write_synthetic_modelnet40, write_synthetic_shapenetpart

__all__ = [
    "CLASS_NAMES",
    "PART_CATEGORIES",
    "generate_classification",
    "generate_parts",
    "write_synthetic_modelnet40",
    "write_synthetic_shapenetpart",
]
