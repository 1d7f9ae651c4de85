"""`neon_trees`: real aerial tiles with human-drawn tree-crown boxes (TFDS).

Three NEON images (repository `data/neon_trees/`, MIT licence) are cut into
tiles on a grid that covers each image completely (tile edges from
`numpy.linspace`, so tiles differ by at most a pixel):

    2019_YELL_2_541000_4977000_image_crop  1249x1035  6 x 5 tiles (~208x207)
    OSBS_029                               400x400    2 x 2 tiles (200x200)
    SOAP_061                               400x400    2 x 2 tiles (200x200)

Split by image region: the rightmost column of YELL's tiles and the
bottom-right tile of OSBS and SOAP are `validation`, every other tile is
`train`, so no pixel is in both.

Box rule: every box of the source XML goes to exactly one tile, the one that
holds its centre, and is clipped to that tile. A tree cut by a tile edge is
therefore labelled only in the tile with its centre. All crowns are one class,
`tree` (SOAP's `Alive` / `Dead` included).

Features follow tfds `voc`: `image`, `image/filename` and `objects` with
`bbox` (normalised `[ymin, xmin, ymax, xmax]`) and `label`.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from overfeat_tf.data.raw import raw_data_dir
from overfeat_tf.data.voc import parse_voc

__all__ = ["NeonTrees", "SOURCES", "parse_voc_boxes", "tile_grid"]

# (stem, tile columns, tile rows, validation tiles as (row, col); None = last column)
SOURCES = (
    ("2019_YELL_2_541000_4977000_image_crop", 6, 5, None),
    ("OSBS_029", 2, 2, ((1, 1),)),
    ("SOAP_061", 2, 2, ((1, 1),)),
)


def parse_voc_boxes(path) -> np.ndarray:
    """Boxes of a Pascal VOC XML file.

    Returns:
        float32 `[n, 4]`: `[ymin, xmin, ymax, xmax]` in pixels, file order.
    """
    return parse_voc(path)["boxes"]


def tile_grid(height: int, width: int, rows: int, cols: int):
    """Tile edges covering the whole image.

    Returns:
        list of `(row, col, top, left, bottom, right)`, row-major.
    """
    ys = np.linspace(0, height, rows + 1).round().astype(int)
    xs = np.linspace(0, width, cols + 1).round().astype(int)
    return [
        (r, c, ys[r], xs[c], ys[r + 1], xs[c + 1])
        for r in range(rows)
        for c in range(cols)
    ]


def _assign(boxes, top, left, bottom, right):
    """Boxes whose centre is in [top, bottom) x [left, right), clipped to it."""
    cy = (boxes[:, 0] + boxes[:, 2]) / 2
    cx = (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (cy >= top) & (cy < bottom) & (cx >= left) & (cx < right)
    clipped = np.clip(
        boxes[inside], [top, left, top, left], [bottom, right, bottom, right]
    )
    return np.flatnonzero(inside), clipped


class NeonTrees(tfds.core.GeneratorBasedBuilder):
    """Aerial RGB tiles of NEON forest plots with tree-crown boxes."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Tiles of three NEON images, split by region."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=(None, None, 3), encoding_format="png"
                    ),
                    "image/filename": tfds.features.Text(),
                    "objects": tfds.features.Sequence(
                        {
                            "bbox": tfds.features.BBoxFeature(),
                            "label": tfds.features.ClassLabel(names=["tree"]),
                        }
                    ),
                }
            ),
            supervised_keys=None,
            homepage="https://www.neonscience.org/",
            license="MIT (deepforest 2.1.0 data; NEON imagery)",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Built from the repository's files; nothing is downloaded.
        folder = raw_data_dir() / "neon_trees"
        return {
            "train": self._generate_examples(folder, "train"),
            "validation": self._generate_examples(folder, "validation"),
        }

    def _generate_examples(self, folder, split):
        for stem, cols, rows, val_tiles in SOURCES:
            image = np.asarray(Image.open(folder / f"{stem}.jpg").convert("RGB"))
            boxes = parse_voc_boxes(folder / f"{stem}.xml")
            height, width = image.shape[:2]
            for r, c, top, left, bottom, right in tile_grid(height, width, rows, cols):
                is_val = c == cols - 1 if val_tiles is None else (r, c) in val_tiles
                if is_val != (split == "validation"):
                    continue
                _, clipped = _assign(boxes, top, left, bottom, right)
                th, tw = bottom - top, right - left
                norm = (clipped - [top, left, top, left]) / [th, tw, th, tw]
                name = f"{stem}_r{r}_c{c}"
                yield (
                    name,
                    {
                        "image": image[top:bottom, left:right],
                        "image/filename": name,
                        "objects": {
                            "bbox": np.clip(norm, 0.0, 1.0).astype(np.float32),
                            "label": np.zeros(len(norm), np.int64),
                        },
                    },
                )
