"""autograde/spec.py's authoring helpers: `variant` and `around` declare a named mistake as a patch
of the reference, which itself never changes; `stand_ins` is course_lib's, for cases."""

from __future__ import annotations

import pytest

from autograde import spec
from course_lib import checks


class Scaled:
    """A reference class as a notebook defines one."""

    def __init__(self, base: float, r: int, alpha: float = 2.0):
        self.base, self.scaling = base, alpha / r

    def forward(self, x):
        return self.base + self.scaling * x


def helper(x):
    return x + 1


def uses_helper(x, k=2):
    return k * helper(x)


OBJECTS = {"Scaled": Scaled, "uses_helper": uses_helper, "helper": helper}


def test_a_class_variant_patches_a_subclass_and_leaves_the_reference():
    wrong = spec.variant("Scaled", forward=lambda self, x: self.scaling * x)(dict(OBJECTS))
    layer = wrong["Scaled"](1.0, 4)
    assert type(layer).__name__ == "WrongScaled" and isinstance(layer, Scaled)
    assert layer.forward(2.0) == 1.0 and Scaled(1.0, 4).forward(2.0) == 2.0
    assert wrong["uses_helper"] is uses_helper                 # the other objects as they were


def test_after_init_gets_the_constructor_arguments_by_name():
    seen = {}

    def no_scaling(self, alpha, **rest):
        seen.update(rest, alpha=alpha)
        self.scaling = alpha
    layer = spec.variant("Scaled", after_init=no_scaling)(dict(OBJECTS))["Scaled"](1.0, r=4)
    assert layer.scaling == 2.0 and seen == {"base": 1.0, "r": 4, "alpha": 2.0}


def test_around_wraps_what_it_replaces():
    doubled = spec.variant("Scaled", forward=spec.around(lambda f, self, x: f(self, 2 * x)))
    assert doubled(dict(OBJECTS))["Scaled"](1.0, 2).forward(1.0) == 3.0
    shifted = spec.variant("uses_helper", spec.around(lambda f, x, k=2: f(x) - 1))
    assert shifted(dict(OBJECTS))["uses_helper"](1) == 3


def test_a_function_is_replaced_or_copied_with_the_names_it_calls_replaced():
    assert spec.variant("helper", lambda x: x)(dict(OBJECTS))["helper"](5) == 5
    copy = spec.variant("uses_helper", helper=lambda x: x - 1)(dict(OBJECTS))["uses_helper"]
    assert copy(3) == 4 and copy(3, k=1) == 2 and uses_helper(3) == 8     # the reference unchanged


def test_a_variant_is_a_replacement_or_a_patch_not_both():
    with pytest.raises(TypeError):
        spec.variant("helper", lambda x: x, forward=None)
    with pytest.raises(TypeError):
        spec.variant("helper")


def test_stand_ins_are_course_libs():
    assert spec.stand_ins is checks.stand_ins and spec.namespace_of is checks.namespace_of
    with spec.stand_ins(uses_helper, helper=lambda x: 0):
        assert uses_helper(3) == 0
    assert uses_helper(3) == 8
