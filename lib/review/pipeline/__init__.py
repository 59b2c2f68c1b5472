"""The book build, from data to published site: :mod:`review.pipeline.build` plans, runs and
publishes; the other modules are its parts (pages and parameters, page execution, the
page cache, the Sphinx render) and the input of the R cross-check of what pages pool."""
