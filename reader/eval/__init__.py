"""Measuring the reader: scoring against truth, and the approaches it is compared with.

`scoring` is pure Python; `baseline` (the usual approach) imports TensorFlow/Keras when run, and
`tesseract` shells out to the `tesseract` command. Nothing here is on the live path.
"""
