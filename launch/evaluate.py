"""Runs metrics on a trained model or on saved codes:

  python -m launch.evaluate --workdir=runs/src --metrics=omes,mig,dci --output_dir=runs/src/eval2
  python -m launch.evaluate --workdir=runs/src --dataset=noisy_dsprites --output_dir=runs/zero_shot
  python -m launch.evaluate --codes=codes.npz --metrics=omes,mig --output_dir=out

Writes results.json, association.png (with OMES) and summary.md to --output_dir.
"""

from absl import app
from absl import flags

from configs import common
from dtransfer import evaluate
from dtransfer import runtime

WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a trained model.")
CODES = flags.DEFINE_string("codes", None, ".npz with 'codes' [N, D] and 'factors' [N, K].")
OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where results go (default <workdir>/eval_cli).")
METRICS = flags.DEFINE_list("metrics", None, "Metrics to run (default: the config's eval.metrics).")
DATASET = flags.DEFINE_string("dataset", None, "Evaluate on this dataset instead of the training one.")
NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "Samples to encode.")
SEED = flags.DEFINE_integer("seed", 0, "Metric seed (with --codes).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}; use --flag=value.")
  if bool(WORKDIR.value) == bool(CODES.value):
    raise app.UsageError("give exactly one of --workdir (a trained model) or --codes (an .npz).")
  runtime.tune_host_allocator()
  if not flags.FLAGS["verbosity"].present:
    from dtransfer import console  # pylint: disable=g-import-not-at-top
    console.quiet_libraries()    # Orbax's restore chatter; --verbosity=0 brings it back
  if METRICS.value:
    from dtransfer import metrics  # pylint: disable=g-import-not-at-top
    unknown = [m for m in METRICS.value if m not in metrics.METRICS]
    if unknown:
      raise app.UsageError(f"unknown metrics {unknown}; choose from {sorted(metrics.METRICS)}.")
  out = OUTPUT_DIR.value
  if CODES.value:
    results = evaluate.evaluate_saved_codes(CODES.value, out or "eval_cli",
                                            common.base_config().eval,
                                            metrics=METRICS.value, seed=SEED.value)
  else:
    results = evaluate.evaluate_workdir(WORKDIR.value, out or f"{WORKDIR.value}/eval_cli",
                                        metrics=METRICS.value, dataset=DATASET.value,
                                        num_samples=NUM_SAMPLES.value)
  from dtransfer import report  # pylint: disable=g-import-not-at-top
  for k, v in report.headline(results).items():
    print(f"{k:28s} {v:.4f}")


if __name__ == "__main__":
  app.run(main)
