"""The living review's own code, in layers that import downwards only (CONTRIBUTING.md,
Architecture): :mod:`review.cli`, then :mod:`review.pipeline` (the book build), then
:mod:`review.book` and :mod:`review.release`, then :mod:`review.analysis`, then
:mod:`review.data`."""
