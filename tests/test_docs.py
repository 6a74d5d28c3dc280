"""The examples in every public docstring run and print what they show."""

import doctest

import pytest

import linflow


PUBLIC_FUNCTIONS = [name for name in linflow.__all__ if callable(getattr(linflow, name))]


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_docstring_examples(name):
    obj = getattr(linflow, name)
    assert obj.__doc__, f"{name} has no docstring"
    finder = doctest.DocTestFinder(exclude_empty=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(obj, name, globs={}):
        runner.run(test)
    assert runner.tries > 0, f"{name} has no examples"
    assert runner.failures == 0
