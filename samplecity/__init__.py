"""The sample city: a synthetic landing zone that follows spec/extracts.md, with ground truth."""
