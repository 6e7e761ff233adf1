"""course_lib: the small backend of the Model Efficiency notebooks.

Modules (one concept each): tokenizer, model (tiny transformer with extension points), datasets,
pretrained (bundled weights), training, measure, plotting,
widgets, runtime (seed, device), checks (visible feedback), grading (hidden-test hook), doctor.
It holds no exercise answer.
"""

__version__ = "0.1.0"

from .runtime import configure_threads as _configure_threads

_configure_threads()
