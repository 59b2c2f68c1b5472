"""The living review's own code: data loading and validation, build pipeline, releases."""
