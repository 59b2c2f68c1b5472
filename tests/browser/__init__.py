"""Tests of the built website in headless Chromium, and the helpers they share."""
