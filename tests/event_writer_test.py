"""TensorBoard event files written without TensorFlow, read back with TensorBoard's reader."""

import numpy as np
import pytest

from dtransfer import event_writer


def test_crc32c_matches_the_standard_check_value():
  assert event_writer.crc32c(b"123456789") == 0xE3069283
  assert event_writer.crc32c(b"") == 0


def test_scalars_and_images_read_back_by_tensorboard(tmp_path):
  ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
  w = event_writer.EventWriter(str(tmp_path))
  assert w.path is None                     # nothing written, no file
  for step in (1, 2, 3):
    w.scalars(step, {"loss": 10.0 / step, "beta": 1, "finite": True, "note": "x",
                     "nan": float("nan")}, prefix="train/")
  rgb = (np.arange(20 * 30 * 3) % 255).astype(np.uint8).reshape(20, 30, 3)
  w.images(3, {"eval/rgb": rgb, "eval/gray": np.full((5, 6, 1), 7, np.uint8)})
  acc = ea.EventAccumulator(str(tmp_path), size_guidance={ea.IMAGES: 0, ea.SCALARS: 0})
  acc.Reload()                               # checks every record's CRCs
  tags = acc.Tags()
  assert sorted(tags["scalars"]) == ["train/beta", "train/loss"]
  assert sorted(tags["images"]) == ["eval/gray", "eval/rgb"]
  loss = acc.Scalars("train/loss")
  assert [e.step for e in loss] == [1, 2, 3]
  np.testing.assert_allclose([e.value for e in loss], [10.0, 5.0, 10.0 / 3], rtol=1e-6)
  img = acc.Images("eval/rgb")[0]
  assert (img.step, img.width, img.height) == (3, 30, 20)
  from PIL import Image  # pylint: disable=g-import-not-at-top
  import io  # pylint: disable=g-import-not-at-top
  np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(img.encoded_image_string))), rgb)


def test_bad_images_are_refused_with_the_fix():
  with pytest.raises(ValueError, match="uint8"):
    event_writer.image_value("x", np.zeros((4, 4), np.float32))
  with pytest.raises(ValueError, match=r"\[H, W\]"):
    event_writer.image_value("x", np.zeros((4, 4, 2), np.uint8))
