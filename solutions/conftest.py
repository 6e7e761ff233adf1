"""Fixtures of the reference tests (solutions/<name>/test_<name>.py): the assignment of the test
file's own folder, its source notebook and its reference objects."""

import nbformat
import pytest

from autograde.build.reference import reference_namespace
from autograde.config import Course
from autograde.spec import mistakes_module


@pytest.fixture(scope="module")
def assignment(request) -> str:
    return request.path.parent.name


@pytest.fixture(scope="module")
def source_nb(assignment):
    return nbformat.read(Course().source(assignment), as_version=4)


@pytest.fixture(scope="module")
def ref(source_nb) -> dict:
    """The setup and solution cells of the source notebook, exec'd: the reference objects."""
    return reference_namespace(source_nb)


@pytest.fixture(scope="module")
def mistakes(assignment):
    return mistakes_module(assignment)
