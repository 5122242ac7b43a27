"""The transfer pairs of the paper's tables: (source dataset, target dataset, what).

A study (dtransfer/study.py, configs/study.py) runs some of them; the study
report titles its tables with them.
"""

from __future__ import annotations

# Datasets with an offline renderer (or bundled images).
OFFLINE = frozenset({"dsprites", "noisy_dsprites", "color_dsprites",
                     "noisy_color_dsprites", "shapes3d", "real_objects"})

# key -> (source dataset, target dataset, what it is). Numbers follow the
# paper (Dapueto et al. 2024, the transfer table); the extra *_real_objects pairs are offline
# stand-ins for the synthetic -> real pairs (3/4, 8/9, 10/11).
PAIRS = {
    "1": ("color_dsprites", "noisy_color_dsprites", "paper table: dSprites family"),
    "2": ("color_dsprites", "shapes3d", "paper table: dSprites family"),
    "3": ("color_dsprites", "coil100_augmented", "paper table: Coil100 targets"),
    "4": ("color_dsprites", "rgbd_objects", "paper table: RGB-D targets"),
    "5": ("dsprites", "color_dsprites", "paper table: dSprites family"),
    "6": ("dsprites", "noisy_dsprites", "paper table: dSprites family"),
    "7": ("dsprites", "shapes3d", "paper table: dSprites family"),
    "8": ("dsprites", "coil100_augmented_binary", "paper table: Coil100 targets"),
    "9": ("dsprites", "rgbd_objects_depth", "paper table: RGB-D targets"),
    "10": ("shapes3d", "coil100_augmented", "paper table: Coil100 targets"),
    "11": ("shapes3d", "rgbd_objects_depth", "paper table: RGB-D targets"),
    "12": ("coil100_augmented", "rgbd_objects", "paper table: RGB-D targets"),
    "13": ("coil100_augmented_binary", "coil100_augmented", "paper table: Coil100 targets"),
    "14": ("coil100_augmented_binary", "rgbd_objects", "paper table: RGB-D targets"),
    "15": ("coil100_augmented_binary", "rgbd_objects_depth", "paper table: RGB-D targets"),
    "shapes3d_isaac3d": ("shapes3d", "isaac3d", "paper appendix: Isaac3D"),
    "dsprites_real_objects": ("dsprites", "real_objects", "offline synthetic -> real"),
    "color_dsprites_real_objects": ("color_dsprites", "real_objects",
                                    "offline synthetic -> real"),
    "shapes3d_real_objects": ("shapes3d", "real_objects", "offline synthetic -> real"),
}
PAPER_PAIRS = tuple(str(i) for i in range(1, 16)) + ("shapes3d_isaac3d",)
QUICK_PAIRS = ("6", "1", "color_dsprites_real_objects")

def needs_originals(dataset: str) -> bool:
  """True when a dataset has no offline renderer (the files must be downloaded)."""
  return dataset not in OFFLINE


def offline_pairs() -> tuple[str, ...]:
  return tuple(k for k, (s, t, _) in PAIRS.items()
               if not needs_originals(s) and not needs_originals(t))


def pair_key(name: str) -> str:
  """Canonical pair key: "6", "06", "pair06" -> "6"; names are checked."""
  name = str(name).strip()
  bare = name[4:] if name.startswith("pair") else name
  if bare.isdigit():
    bare = str(int(bare))
  if bare not in PAIRS:
    raise ValueError(f"unknown transfer pair '{name}'; known pairs: {list(PAIRS)} "
                     "(or the groups all, paper, offline).")
  return bare


def pair_dirname(key: str) -> str:
  """Directory name of a pair: "pair06" for paper pair 6, else the key."""
  return f"pair{int(key):02d}" if key.isdigit() else key
