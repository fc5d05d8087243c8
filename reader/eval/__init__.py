"""Measuring the reader: scoring against truth, the readers it is compared with, and timing.

`scoring` is pure Python; `harness` runs readers over scene sets and photos (`scene_sets`);
`peers` builds the comparison readers: `baseline` (the usual approach; imports TensorFlow/Keras
when run), `tesseract` (shells out to the `tesseract` command) and `rapidocr` (the optional
extra `digit-reader[compare]`); `speed` and `pages` time them all on the same frames.
Nothing here is on the live path.
"""
