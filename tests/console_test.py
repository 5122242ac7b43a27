"""The console: progress lines with the loss terms, printed once; libraries kept quiet."""

import io
import logging

from absl import logging as absl_logging

from dtransfer import console


def test_format_terms_puts_the_loss_first_and_skips_bookkeeping():
  line = console.format_terms({"kl": 0.5, "grad_norm": 3.0, "loss": 12.25, "recon": 11.75,
                               "finite": True, "steps_per_sec": 4.0, "eta_sec": 9.0,
                               "zeta": 1e-7, "note": "text"})
  assert line == "loss 12.25  recon 11.75  kl 0.5  |g| 3  zeta 1e-07"   # "note" is no number


def test_progress_line_has_step_terms_speed_and_eta():
  out = io.StringIO()
  p = console.TrainProgress(100, start=0, stream=out, terminal=False)
  rates = p.update(10, {"loss": 5.0, "kl": 0.25})
  text = out.getvalue()
  assert text.startswith("[train] step  10/100  loss 5  kl 0.25  ") and "steps/s  ETA 0:" in text
  assert text.count("\n") == 1
  assert set(rates) == {"steps_per_sec", "eta_sec"} and rates["steps_per_sec"] > 0


def test_progress_on_a_terminal_is_a_bar_redrawn_in_place():
  out = io.StringIO()
  p = console.TrainProgress(4, stream=out, terminal=True)
  p.update(2, {"loss": 1.0})
  assert out.getvalue().startswith("\r\033[K[train] [##########..........] step 2/4  loss 1")
  assert "\n" not in out.getvalue()
  console.say("eval", "next", stream=out)   # a message after an open bar starts a new line
  assert out.getvalue().split("\n")[1:] == ["[eval] next", ""]
  p.update(4, {"loss": 0.5})
  assert out.getvalue().endswith("\n")


def test_say_prints_once_and_logs_at_debug(capsys, caplog):
  with caplog.at_level(logging.DEBUG, logger="dtransfer"):
    console.say("main", "stage: done")
  assert capsys.readouterr().out == "[main] stage: done\n"
  assert [r.levelno for r in caplog.records] == [logging.DEBUG]


def test_print_warnings(capsys):
  console.print_warnings("eval", {"omes": {"warnings": ["dim 3 is inactive"]}, "mig": 0.5})
  assert capsys.readouterr().out == "[eval] warning: omes: dim 3 is inactive\n"


def test_quiet_libraries_sets_warning_level():
  before = absl_logging.get_verbosity(), logging.getLogger("orbax").level
  try:
    console.quiet_libraries()
    assert absl_logging.get_verbosity() == absl_logging.WARNING
    assert logging.getLogger("orbax").level == logging.WARNING
    console.quiet_libraries(logging.INFO)
    assert absl_logging.get_verbosity() == absl_logging.INFO
  finally:
    absl_logging.set_verbosity(before[0])
    logging.getLogger("orbax").setLevel(before[1])
