"""Segmentation by recognition: the network decides what is one digit, two, or none.

The contour stage proposes boxes; some hold two touching digits, some only a piece of a digit
(a faint pen breaks strokes). Geometry only proposes alternatives, the classifier chooses:

* a box too wide for one digit is also read cut at the columns a cut crosses least ink at (a
  loop's hole counts as ink: touching digits meet beside their loops), as every run of pieces
  between two cuts that could be one digit; each run is read alone, the rest of the blob
  painted over with paper, as the network learned lone digits; the split the network is
  surest of (the product of its pieces' digit scores, by dynamic programming over the cuts)
  replaces the box when it beats the whole box's score (a split with a 1 in it must also
  beat the whole's not-a-digit probability: cut letters are bare strokes; unless it has one
  1 and the network is sure of every piece, as of a 1 touching a 9);
* two boxes lying close together are also read merged; the merged box replaces them when the
  network is surer of it than of either piece;
* a blob too small or flat to be a digit alone (a 5's detached bar) is read joined to the box
  it lies next to, and the joined box replaces that box when the network is surer of it.

Alternatives are proposed only for boxes the network doubts (digit score below `DOUBT_SCORE`,
or called not-a-digit), and all of them are read in one second classifier call: a frame of
clean digits costs one call, any frame at most two, of at most `MAX_PROPOSALS` alternatives:
when the boxes to cut need more, each gives up its least likely cuts, the box with most cuts
first, so that none goes without. With a model that has a "not a digit" output (index 10), a
piece of a digit or two touching digits is what it learned to call not-a-digit, so both
comparisons lean the right way; `digit_probabilities` then drops what the network calls
not-a-digit.

"Sure" is the digit score: the largest digit-class probability (not-a-digit excluded).
"""

from __future__ import annotations

import cv2
import numpy as np

from reader.classify import NOT_A_DIGIT
from reader.ink import binary_mask
from reader.patches import make_patches, own_ink, padded_crop

# With segmentation by recognition, the contour stage passes blobs up to this much wider than
# tall (a few touching digits) instead of dropping them.
MAX_BLOB_WIDTH_PER_HEIGHT = 4.5
# A box at least this much wider than tall may be touching digits (one digit seldom reaches
# it; the network keeps a wide 0 or 2 whole).
CUT_MIN_WIDTH_PER_HEIGHT = 0.8
# Cuts are tried at the columns that cost a cut least (local minima of the ink and loop hole
# per column; HOLE_COST a pixel of hole), at least this share of the box's height from each
# other and from its ends...
CUT_MIN_SPACING_SHARE = 0.2
# ...and a piece between two cuts (or a cut and an end) may span up to this many of them,
# be at most this share of the height wide (one digit) and at least this share of it tall
# (the digits of one number are of a height; shorter is a sliver).
CUT_MAX_SPAN = 3
PIECE_MAX_WIDTH_PER_HEIGHT = 1.3
PIECE_MIN_HEIGHT_SHARE = 0.5
CUTS_PER_HEIGHT = 2.5          # at most this many cuts per box height of width (+1)
HOLE_COST = 1.0
# Two boxes are a merge candidate when the paper between them is at most this share of the
# taller one's height and they overlap in rows or columns; the merged box must still have a
# digit's proportions (no wider than tall by this factor).
MERGE_MAX_GAP_SHARE = 0.2
MERGE_MAX_WIDTH_PER_HEIGHT = 1.2
# Only boxes the network doubts get alternatives: its digit score below this, or not-a-digit.
# Depends on the model (how sure it is of clean digits); retune when the model changes.
DOUBT_SCORE = 0.8
# A split with one 1 in it that does not beat the whole's not-a-digit probability is still
# taken when each of its pieces scores at least this (printed scenes s5/s11/s23/s42: no cut
# word leaves one 1 beside other pieces all above 0.81; most touching pairs with a 1 score
# 0.9-0.97). Depends on the model, as DOUBT_SCORE does.
SURE_SCORE = 0.9
# At most this many extra patches per frame (a cluttered frame stays fast; one of the
# classifier's batch sizes). A page of a dozen touching numbers needs about this many: with
# 64, touching scenes s5/s11 read 3-16 points fewer digits.
MAX_PROPOSALS = 96
_NEAR = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


def digit_scores(probs: np.ndarray) -> np.ndarray:
    """How sure the network is that each patch is some digit: its largest digit probability."""
    return probs[:, :NOT_A_DIGIT].max(axis=1) if len(probs) else np.zeros(0, np.float32)


def digit_probabilities(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keep, digit_probs): which patches are digits, and their probabilities over 0-9.

    A 10-output model keeps everything. With an 11th "not a digit" output, a patch is dropped
    when that is its most likely class; the others' probabilities are renormalised over the
    digit classes (the digit's confidence is over digits).
    """
    if probs.shape[1] <= NOT_A_DIGIT:
        return np.ones(len(probs), bool), probs
    keep = probs.argmax(axis=1) != NOT_A_DIGIT
    digits = probs[:, :NOT_A_DIGIT]
    digits = digits / np.maximum(digits.sum(axis=1, keepdims=True), 1e-12)
    return keep, digits.astype(np.float32)


def _cut_costs(blob: np.ndarray) -> np.ndarray:
    """What crossing each pixel of a box costs a cut (h, w) float32: ink 1, the holes of its
    loops HOLE_COST, open paper 0. Touching digits meet beside their loops: a cut through a
    0 crosses less ink than one along the stretch where two 0s touch, but not less ink and
    hole."""
    h, w = blob.shape
    open_paper = np.zeros((h + 2, w + 2), np.uint8)   # a frame of paper around the box
    open_paper[1:-1, 1:-1] = blob
    cv2.floodFill(open_paper, None, (0, 0), 2)       # the paper reached from outside
    holes = open_paper[1:-1, 1:-1] == 0
    return blob.astype(np.float32) + np.float32(HOLE_COST) * holes


def _cut_columns(blob: np.ndarray, limit: int) -> np.ndarray:
    """Up to `limit` columns of a box (h, w bool, ink True) where touching digits may meet,
    cheapest first: the local minima of what crossing each column costs (`_cut_costs`),
    CUT_MIN_SPACING_SHARE of the height apart and from the box's ends."""
    h, w = blob.shape
    spacing = max(2, int(CUT_MIN_SPACING_SHARE * h))
    if w < 2 * spacing + 1:
        return np.zeros(0, np.int32)
    cost = _cut_costs(blob).sum(axis=0)
    smooth = np.convolve(cost, np.ones(3) / 3, mode="same")
    inner = np.arange(spacing, w - spacing)
    minima = inner[(smooth[inner] <= smooth[inner - 1]) & (smooth[inner] <= smooth[inner + 1])]
    chosen: list[int] = []
    for column in minima[np.argsort(cost[minima], kind="stable")].tolist():
        if all(abs(column - c) >= spacing for c in chosen):
            chosen.append(column)
            if len(chosen) == limit:
                break
    return np.asarray(chosen, np.int32)


def _blob(mask: np.ndarray, box: np.ndarray) -> tuple:
    """A box's own ink (in its `padded_crop`, 0/255), the crop's origin in the frame and the
    box inside the crop."""
    x, y, w, h = (int(v) for v in box)
    x0, y0, x1, y1 = padded_crop((x, y, w, h), mask.shape)
    box_in_crop = (x - x0, y - y0, w, h)
    own, _ = own_ink(binary_mask(mask[y0:y1, x0:x1], "segment"), box_in_crop)
    return own, (x0, y0), box_in_crop


def _blob_cuts(blob_info: tuple) -> np.ndarray:
    """The columns (in the box, cheapest first) where a box from `_blob` may be cut: up to
    CUTS_PER_HEIGHT per box height of width, plus one."""
    own, _, (bx, by, w, h) = blob_info
    return _cut_columns(own[by:by + h, bx:bx + w] > 0, int(CUTS_PER_HEIGHT * w / h) + 1)


def _run_count(pieces: int) -> int:
    """How many runs of at most CUT_MAX_SPAN pieces, the whole excepted, `pieces` give."""
    return sum(min(CUT_MAX_SPAN, pieces - a) for a in range(pieces)) - 1


def _share_cuts(cuts: list[np.ndarray], budget: int) -> list[np.ndarray]:
    """Keep the cheapest cuts of each box (`_cut_columns`' order) so that the runs to read
    fit `budget`; the box with most cuts gives one up first (no box goes without while the
    budget allows one cut each). Returns each box's kept cuts, left to right."""
    kept = [len(c) for c in cuts]
    while sum(_run_count(k + 1) for k in kept if k) > budget and any(kept):
        kept[int(np.argmax(kept))] -= 1
    return [np.sort(c[:k]) for c, k in zip(cuts, kept)]


def _cut_pieces(gray: np.ndarray, blob_info: tuple, cuts: np.ndarray, room: int
                ) -> tuple[int, list[tuple[int, int, tuple, np.ndarray]]] | None:
    """The ways to cut one box into digits at the columns `cuts` (left to right): (n, runs),
    n = len(cuts) + 1, and per run of pieces between cuts a < b (0 and n: the box's ends; at
    most CUT_MAX_SPAN pieces, not the whole box, at most `room` runs), (a, b, ink box in the
    frame, patch (1, 28, 28)).

    A run's patch holds only its own ink: a cut column belongs to no run, and the blob's ink
    outside the run is painted over with the paper's grey, so the run is normalised as a lone
    digit is (the network learned lone digits). None when there is no cut.
    """
    if len(cuts) == 0:
        return None
    own, (x0, y0), (bx, by, w, h) = blob_info
    blob = own[by:by + h, bx:bx + w] > 0
    n = len(cuts) + 1
    ends = [-1, *cuts.tolist(), w]     # a run holds the columns between its two ends
    gray_crop = gray[y0:y0 + own.shape[0], x0:x0 + own.shape[1]]
    paper = cv2.mean(gray_crop, mask=cv2.bitwise_not(cv2.dilate(own, _NEAR)))[0]
    inked_columns = blob.any(axis=0)
    paper_grey = round(paper)
    found = []
    for a in range(n):
        for b in range(a + 1, min(a + CUT_MAX_SPAN, n) + 1):
            if (a, b) == (0, n) or len(found) >= room:
                continue
            first, stop = ends[a] + 1, ends[b]
            cols = first + np.flatnonzero(inked_columns[first:stop])
            if cols.size == 0 or cols[-1] - cols[0] + 1 > PIECE_MAX_WIDTH_PER_HEIGHT * h:
                continue
            rows = np.flatnonzero(blob[:, first:stop].any(axis=1))
            if rows[-1] - rows[0] + 1 < PIECE_MIN_HEIGHT_SHARE * h:
                continue   # a sliver: digits of one number are of a height
            # The run: the blob's own ink in its columns (own ink lies inside the box).
            run_mask = np.zeros_like(own)
            run_mask[:, bx + first:bx + stop] = own[:, bx + first:bx + stop]
            # The rest of the blob's ink (and its soft edges) becomes paper.
            others = cv2.dilate(cv2.subtract(own, run_mask), _NEAR)
            others[run_mask > 0] = 0
            run_gray = gray_crop.copy()
            run_gray[others > 0] = paper_grey
            piece = (bx + int(cols[0]), by + int(rows[0]), int(cols[-1] - cols[0] + 1),
                     int(rows[-1] - rows[0] + 1))
            found.append((a, b, (x0 + piece[0], y0 + piece[1], piece[2], piece[3]),
                          make_patches(run_gray, run_mask, np.array([piece]))))
    return (n, found) if found else None


def _merge_pairs(boxes: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j) of boxes close enough to be pieces of one digit; each box's nearest one."""
    if len(boxes) < 2:
        return []
    x, y, w, h = (boxes[:, k].astype(np.float64) for k in range(4))
    gap_x = np.maximum(x[:, None], x[None, :]) - np.minimum((x + w)[:, None], (x + w)[None, :])
    gap_y = np.maximum(y[:, None], y[None, :]) - np.minimum((y + h)[:, None], (y + h)[None, :])
    taller = np.maximum(h[:, None], h[None, :])
    # Overlapping in one direction, a small gap in the other.
    gap = np.where(gap_x < 0, gap_y, np.where(gap_y < 0, gap_x, np.inf))
    merged_w = np.maximum((x + w)[:, None], (x + w)[None, :]) - np.minimum(x[:, None], x[None, :])
    merged_h = np.maximum((y + h)[:, None], (y + h)[None, :]) - np.minimum(y[:, None], y[None, :])
    close = ((gap <= MERGE_MAX_GAP_SHARE * taller)
             & (merged_w <= MERGE_MAX_WIDTH_PER_HEIGHT * merged_h))
    np.fill_diagonal(close, False)
    gap = np.where(close, gap, np.inf)
    nearest = gap.argmin(axis=1)
    pairs = {(min(i, int(j)), max(i, int(j))) for i, j in enumerate(nearest)
             if np.isfinite(gap[i, j])}
    return sorted(pairs)


def _piece_hosts(boxes: np.ndarray, pieces: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (box index, piece index): each piece with the nearest box it could belong to
    (close, overlapping in rows or columns, together no wider than a digit), not inside it."""
    if len(boxes) == 0 or len(pieces) == 0:
        return []
    bx, by, bw, bh = (boxes[:, k][None, :].astype(np.float64) for k in range(4))
    px, py, pw, ph = (pieces[:, k][:, None].astype(np.float64) for k in range(4))
    gap_x = np.maximum(px, bx) - np.minimum(px + pw, bx + bw)
    gap_y = np.maximum(py, by) - np.minimum(py + ph, by + bh)
    gap = np.where(gap_x < 0, np.maximum(gap_y, 0), np.where(gap_y < 0, gap_x, np.inf))
    merged_w = np.maximum(px + pw, bx + bw) - np.minimum(px, bx)
    merged_h = np.maximum(py + ph, by + bh) - np.minimum(py, by)
    inside = (px >= bx) & (py >= by) & (px + pw <= bx + bw) & (py + ph <= by + bh)
    close = ((gap <= MERGE_MAX_GAP_SHARE * bh) & ~inside
             & (merged_w <= MERGE_MAX_WIDTH_PER_HEIGHT * merged_h))
    gap = np.where(close, gap, np.inf)
    nearest = gap.argmin(axis=1)
    return [(int(nearest[k]), k) for k in range(len(pieces)) if np.isfinite(gap[k, nearest[k]])]


def every_alternative(gray: np.ndarray, mask: np.ndarray, boxes: np.ndarray,
                           pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every alternative `read_boxes` may read for a frame's contour boxes (the not-a-digit
    negatives of training are drawn from them).

    Returns boxes (M, 4) and their patches (M, 28, 28), made as `read_boxes` makes them: the
    runs of pieces of every box wide enough to be cut (each read alone, the rest of its blob
    painted over with paper), two close boxes merged, a small piece joined to the box beside it. The reader proposes these only for boxes the network doubts, within a budget;
    here every box counts, so the result does not depend on a model.
    """
    boxes = np.asarray(boxes, np.int32).reshape(-1, 4)
    pieces = np.asarray(pieces, np.int32).reshape(-1, 4)
    out_boxes: list[tuple] = []
    out_patches: list[np.ndarray] = []
    for box in boxes[boxes[:, 2] >= CUT_MIN_WIDTH_PER_HEIGHT * boxes[:, 3]]:
        blob_info = _blob(mask, box)
        found = _cut_pieces(gray, blob_info, np.sort(_blob_cuts(blob_info)), room=1 << 20)
        for _, _, piece, patch in (found[1] if found else []):
            out_boxes.append(piece)
            out_patches.append(patch)
    joined = [_union(boxes[i], boxes[j]) for i, j in _merge_pairs(boxes)]
    joined += [_union(boxes[i], pieces[k]) for i, k in _piece_hosts(boxes, pieces)]
    if joined:
        out_patches.append(make_patches(gray, mask, np.array(joined)))
        out_boxes.extend(joined)
    if not out_boxes:
        return np.zeros((0, 4), np.int32), np.zeros((0, 28, 28), np.float32)
    return np.array(out_boxes, np.int32).reshape(-1, 4), np.concatenate(out_patches)


def read_boxes(gray: np.ndarray, mask: np.ndarray, boxes: np.ndarray, classifier,
               pieces: np.ndarray | None = None, clock=None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, patches and class probabilities after segmentation by recognition.

    `boxes` (N, 4) from the contour stage; `pieces` (K, 4) blobs too small or flat to be a
    digit alone, read only joined to the box they lie next to. Returns the final boxes (M, 4)
    int32, their patches (M, 28, 28) and probabilities (M, classes). One classifier call reads
    the boxes; a second one, only when the network doubts some box, reads the cuts and merges
    proposed for it.
    `clock` (the pipeline's StageClock), when given, laps "patches" and "classify" here.
    """
    boxes = np.asarray(boxes, np.int32).reshape(-1, 4)
    pieces_in = np.zeros((0, 4), np.int32) if pieces is None else np.asarray(pieces, np.int32)
    count = len(boxes)
    patches = make_patches(gray, mask, boxes)
    if clock is not None:
        clock.lap("patches")
    probs = classifier.predict(patches)
    if clock is not None:
        clock.lap("classify")
    if count == 0:
        return boxes, patches, probs
    whole = digit_scores(probs)
    doubtful = (whole < DOUBT_SCORE) | (probs.argmax(axis=1) == NOT_A_DIGIT)
    # A piece next to a box is read joined to it (a 5 and its detached bar).
    joins = _piece_hosts(boxes, pieces_in)
    close_pairs = _merge_pairs(boxes)
    stacked = [_stacked(boxes[i], boxes[j]) for i, j in close_pairs]
    if not doubtful.any() and not joins and not any(stacked):
        return boxes, patches, probs

    # Cut proposals: per box the network doubts and that has room for two digits, columns where
    # touching digits may meet, and the runs of pieces between them (see _cut_pieces).
    # A segment: (box index, first cut, last cut, ink box); its patch is in cut_patches.
    segments: list[tuple[int, int, int, tuple]] = []
    cut_patches: list[np.ndarray] = []
    ends_of: dict[int, int] = {}   # box index -> its number of cuts + 1
    wide = boxes[:, 2] >= CUT_MIN_WIDTH_PER_HEIGHT * boxes[:, 3]
    to_cut = np.flatnonzero(doubtful & wide).tolist()
    blobs = [_blob(mask, boxes[i]) for i in to_cut]
    cuts = _share_cuts([_blob_cuts(blob_info) for blob_info in blobs], MAX_PROPOSALS)
    for i, blob_info, box_cuts in zip(to_cut, blobs, cuts):
        room = MAX_PROPOSALS - len(segments)
        if room <= 0:
            break      # a hard cap: a frame's second call stays small
        found = _cut_pieces(gray, blob_info, box_cuts, room)
        if found:
            ends_of[i] = found[0]
            for a, b, piece, patch in found[1]:
                segments.append((i, a, b, piece))
                cut_patches.append(patch)
    # Side by side, only doubtful boxes may be pieces (close digits of a number are common);
    # stacked boxes this close are rare and are always weighed (a 6's loop and its stem).
    pairs = [(i, j) for (i, j), above in zip(close_pairs, stacked)
             if doubtful[i] or doubtful[j] or above]
    pairs = pairs[:max(0, MAX_PROPOSALS - len(segments))]
    joins = joins[:max(0, MAX_PROPOSALS - len(segments) - len(pairs))]
    if not segments and not pairs and not joins:
        return boxes, patches, probs
    # A join is a merge of a box with a piece that is not read alone (its score: 0).
    merged_boxes = np.array([_union(boxes[i], boxes[j]) for i, j in pairs]
                            + [_union(boxes[i], pieces_in[k]) for i, k in joins],
                            np.int32).reshape(-1, 4)
    merges = [*pairs, *((i, None) for i, _ in joins)]   # (box, other box or None: a piece)
    proposed = [make_patches(gray, mask, merged_boxes)] if len(merged_boxes) else []
    proposed += cut_patches
    patches = np.concatenate([patches, *proposed])
    probs = np.concatenate([probs, classifier.predict(np.concatenate(proposed))])

    scores = digit_scores(probs)
    merged_scores = scores[count:count + len(merges)]
    piece_scores = scores[count + len(merges):]
    piece_labels = probs[count + len(merges):, :NOT_A_DIGIT].argmax(axis=1)
    has_not_a_digit = probs.shape[1] > NOT_A_DIGIT
    # Cuts: per wide box, the split into segments the network is surest of as a whole (the
    # product of the pieces' scores, the whole box being one choice), by dynamic programming.
    splits: dict[int, list[int]] = {}   # box index -> its chosen pieces' proposal indices
    for i, n in ends_of.items():
        best = np.full(n + 1, -np.inf)
        best[0] = 0.0
        back: list[tuple[int, int] | None] = [None] * (n + 1)
        for k, (box_index, a, b, _) in enumerate(segments):
            if box_index != i:
                continue
            # Proposals come ordered by a: best[a] is final when segments from a are weighed.
            gain = best[a] + np.log(max(float(piece_scores[k]), 1e-9))
            if gain > best[b]:
                best[b], back[b] = gain, (a, k)
        if best[n] > np.log(max(float(whole[i]), 1e-9)):
            chosen, b = [], n
            while b > 0:
                a, k = back[b]
                chosen.append(k)
                b = a
            # A cut through any stroke figure (a printed H, U, N, m; ruling) leaves bare
            # strokes the network rightly reads as 1s: a split with a 1 in it is no evidence
            # of digits unless it also beats the network's belief that the whole is no digit,
            # or it is one 1 beside other digits and the network is sure of every piece (a 1
            # touching a 9 or an 8, which it learned as not-a-digit; a cut m, n, H or U
            # leaves two or more strokes, a cut word seldom sure digits beside one stroke).
            ones = sum(piece_labels[k] == 1 for k in chosen)
            sure_one_beside_digits = ones == 1 and len(chosen) > 1 \
                and min(float(piece_scores[k]) for k in chosen) >= SURE_SCORE
            if ones and has_not_a_digit and not sure_one_beside_digits \
                    and best[n] <= np.log(max(float(probs[i, NOT_A_DIGIT]), 1e-9)):
                continue
            splits[i] = chosen[::-1]
    # Merges: surer of the merged box than of either piece (a piece alone scores 0); each
    # box merges once, best margin first, and a box that was cut does not merge.
    taken = np.zeros(count, bool)
    taken[list(splits)] = True
    chosen_merges = []
    margins = [merged_scores[k] - (whole[i] if j is None else max(whole[i], whole[j]))
               for k, (i, j) in enumerate(merges)]
    for k in np.argsort(margins, kind="stable")[::-1].tolist():
        i, j = merges[k]
        if margins[k] <= 0:
            break
        if not (taken[i] or (j is not None and taken[j])):
            taken[i] = True
            if j is not None:
                taken[j] = True
            chosen_merges.append(k)

    out_boxes, out_rows = [], []
    for i in range(count):
        if i in splits:
            for k in splits[i]:
                out_boxes.append(segments[k][3])
                out_rows.append(count + len(merges) + k)
        elif not taken[i]:
            out_boxes.append(tuple(boxes[i]))
            out_rows.append(i)
    for k in chosen_merges:
        out_boxes.append(tuple(merged_boxes[k]))
        out_rows.append(count + k)
    rows = np.array(out_rows, np.int64)
    final = np.array(out_boxes, np.int32).reshape(-1, 4)
    order = np.argsort(final[:, 0], kind="stable")
    return final[order], patches[rows[order]], probs[rows[order]]


def _stacked(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two boxes share columns (one above the other)."""
    return bool(min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0]))


def _union(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)
