"""Work directories written before a config field was renamed still load."""

import json

from configs import source as source_cfg
from dtransfer import workdir as workdir_lib


def test_old_data_source_field_reads_as_origin(tmp_path):
  config = source_cfg.get_config("dsprites,tiny")
  old = json.loads(config.to_json_best_effort())
  old["data"]["source"] = old["data"].pop("origin")
  (tmp_path / "config.json").write_text(json.dumps(old))
  read = workdir_lib.read_config(str(tmp_path))
  assert read.data.origin == "procedural" and "source" not in read.data
  # The same experiment, so preparing the directory again is accepted.
  (tmp_path / "checkpoints" / "1").mkdir(parents=True)
  workdir_lib.prepare_workdir(config, str(tmp_path))
