"""Fault injection, counted: checkpoint corruptions and hostile archive members.

  python benchmarks/fault_injection.py [--repo=/path/to/a/checkout]

Runs the same damage against any dtransfer checkout (``--repo``, default this
one) through the API every version has (``Checkpointer.save/restore``,
``extract_cars``, ``ZipCoil100Source``), so before/after figures come from
one script. Checkpoints: a small opaque pytree saved at steps 1 and 2; every
file of step 2 gets a bit flip and a 4 KB overwrite, plus truncation,
deletions of files and item folders. Each restore is counted as

  fell back     step 1 restored, unchanged (the damage was detected)
  harmless      step 2 restored, bit-identical
  SILENT        step 2 restored with changed values, no error
  failed        no state restored although step 1 was intact

Archives: each hostile member (absolute path, '..', symlink, hard link, FIFO)
in a Cars3D tar and a COIL-100 zip is counted as refused with the member
named, refused without naming it, or passed without an error (read,
extracted, or skipped unnoticed).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile

import numpy as np

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _state(step):
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  r = np.random.default_rng(step)
  return {"step": jnp.asarray(step, jnp.int32),
          "params": {"w": jnp.asarray(r.normal(size=(64, 32)), jnp.float32),
                     "b": jnp.asarray(r.normal(size=(32,)), jnp.float32)},
          "opt_state": ({"mu": jnp.asarray(r.normal(size=(64, 32)), jnp.float32)},)}


def _equal(a, b):
  import jax  # pylint: disable=g-import-not-at-top
  return all(np.array_equal(np.asarray(x), np.asarray(y))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _damages(step_dir):
  files = sorted(os.path.join(r, f) for r, _, fs in os.walk(step_dir) for f in fs)
  out = []
  for p in files:
    rel = os.path.relpath(p, step_dir)

    def flip(p=p):
      d = bytearray(open(p, "rb").read())
      if d:
        d[len(d) // 2] ^= 1
      open(p, "wb").write(bytes(d))

    def overwrite(p=p):
      with open(p, "r+b") as f:
        f.write(os.urandom(min(4096, os.path.getsize(p))))

    out += [(f"bit flip {rel}", flip), (f"4 KB overwrite {rel}", overwrite),
            (f"delete {rel}", lambda p=p: os.remove(p))]
  for name in sorted(os.listdir(step_dir)):
    if os.path.isdir(os.path.join(step_dir, name)):
      out.append((f"delete folder {name}/",
                  lambda n=name: shutil.rmtree(os.path.join(step_dir, n))))
  return out


def checkpoints() -> dict:
  from dtransfer import checkpoint  # pylint: disable=g-import-not-at-top
  root = tempfile.mkdtemp()
  pristine = os.path.join(root, "pristine")
  ck = checkpoint.Checkpointer(pristine, keep=2)
  ck.save(1, _state(1))
  ck.save(2, _state(2))
  ck.close()
  counts, silent = {}, []
  names = [n for n, _ in _damages(os.path.join(pristine, "2"))]
  for i, name in enumerate(names):
    d = os.path.join(root, f"c{i}")
    shutil.copytree(pristine, d)
    dict(_damages(os.path.join(d, "2")))[name]()
    ck = checkpoint.Checkpointer(d, keep=2)
    try:
      step, state = ck.restore(_state(0))
      if step == 1 and _equal(state, _state(1)):
        outcome = "fell back"
      elif step == 2 and _equal(state, _state(2)):
        outcome = "harmless"
      else:
        outcome = "SILENT"
        silent.append(name)
    except Exception:  # pylint: disable=broad-except
      outcome = "failed"
    finally:
      ck.close()
    counts[outcome] = counts.get(outcome, 0) + 1
  shutil.rmtree(root, ignore_errors=True)
  return {"total": len(names), **counts, "silent cases": silent}


_HOSTILE = [("/etc/x1", "file"), ("../x2", "file"), ("a/../../x3", "file"),
            ("link", "symlink"), ("hard", "hardlink"), ("fifo", "fifo")]


def archives() -> dict:
  from dtransfer.datasets.cars3d import original as cars  # pylint: disable=g-import-not-at-top
  from dtransfer.datasets.coil100 import original as coil  # pylint: disable=g-import-not-at-top
  cars_dummy = os.path.join(os.path.dirname(cars.__file__), "dtransfer_cars3d", "dummy_data")
  coil_zip = os.path.join(os.path.dirname(coil.__file__), "dtransfer_coil100", "dummy_data",
                          "coil-100.zip")
  out = {}
  for fmt in ("tar", "zip"):
    for base, kind in _HOSTILE:
      if fmt == "zip" and kind in ("hardlink", "fifo"):
        continue  # zip has no hard links or FIFOs
      tmp = tempfile.mkdtemp()
      if fmt == "tar":
        name = base.replace("x", "data/cars/car_9_mesh.mat") if base != "link" else "data/cars/car_8_mesh.mat"
        name = {"hard": "data/cars/car_7_mesh.mat", "fifo": "data/cars/car_6_mesh.mat"}.get(base, name)
        path = os.path.join(tmp, "a.tar.gz")
        with tarfile.open(path, "w:gz") as t:
          t.add(os.path.join(cars_dummy, "data"), arcname="data")
          info, data = tarfile.TarInfo(name), b""
          if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
          elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "data/cars/list.txt"
          elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
          else:
            data = b"x" * 10
          info.size = len(data)
          t.addfile(info, io.BytesIO(data))
        run = lambda path=path, tmp=tmp: cars.extract_cars(path, os.path.join(tmp, "out"))
      else:
        name = base.replace("x", "obj1__0.png") if base != "link" else "coil-100/obj1__5.png"
        path = os.path.join(tmp, "coil-100.zip")
        with zipfile.ZipFile(coil_zip) as src, zipfile.ZipFile(path, "w") as dst:
          for info in src.infolist():
            if info.filename != name:
              dst.writestr(info, src.read(info.filename))
          info = zipfile.ZipInfo(name)
          if kind == "symlink":
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            dst.writestr(info, "/etc/passwd")
          else:
            dst.writestr(info, src.read("coil-100/obj1__0.png"))
        run = lambda path=path: coil.ZipCoil100Source(path)
      try:
        run()
        outcome = "no error (member read, extracted or silently skipped)"
      except Exception as e:  # pylint: disable=broad-except
        outcome = ("refused, member named" if name in str(e)
                   else f"refused, unclear ({type(e).__name__}: {str(e)[:90]})")
      out[f"{fmt} {kind} {name}"] = outcome
      shutil.rmtree(tmp, ignore_errors=True)
  return out


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--repo", default=_HERE)
  args = ap.parse_args()
  sys.path.insert(0, os.path.abspath(args.repo))
  import dtransfer  # pylint: disable=g-import-not-at-top
  print(f"dtransfer from {os.path.dirname(dtransfer.__file__)}")
  ck = checkpoints()
  print("checkpoint corruptions:", {k: v for k, v in ck.items() if k != "silent cases"})
  for name in ck["silent cases"]:
    print("  SILENT:", name)
  arch = archives()
  for k, v in arch.items():
    print(f"  {k:48s} {v}")


if __name__ == "__main__":
  main()
