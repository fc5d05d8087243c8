"""Synthetic camera scenes with ground truth: handwritten numbers on paper, stills and videos.

The digits are MNIST *test* images drawn as pen, pencil or marker strokes on paper, then seen
through a camera (perspective, rotation, light, blur, noise, JPEG or video compression). Every
truth box is the bounding box of that digit's ink after all the geometry, so a reader's boxes can
be scored against it.

One job per module:
    glyphs  - MNIST test digit -> ink coverage (alpha) at a given height and stroke width
    layout  - numbers and lines placed on a page, digits never touching
    paper   - paper colour, texture, ruling; light (gradient, vignette, shadow)
    camera  - page-to-frame homographies, camera paths, sensor effects
    truth   - ink tracking through homographies, the truth JSON, atomic file writes
    still   - one still photo
    video   - one video with a moving, shaking camera; the bundled demo clip
"""
