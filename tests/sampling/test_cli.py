"""The `frame` and `sample` commands: import with a report and exit 1 on bad rows, design with
a preview, draw with a seed, verify, and an owner-only export."""
from __future__ import annotations

import csv
import json
import stat

from tests.sampling.conftest import frame_rows, write_frame
from tests.staff.conftest import audit_rows


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)


def test_frame_and_sample_commands(app, tree, tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    path = write_frame(tmp_path, frame_rows(50) + ["HS-Z,11953,dat-dai,hôm qua,,,,"])
    result = run(app, "frame", "import", str(path), "--unit", "33", "--source", "iGate")
    assert result.exit_code == 1 and "line 53:" in result.output and "50 new dossiers" in result.output
    again = run(app, "frame", "import", str(path), "--unit", "33", "--source", "iGate")
    assert "0 new dossiers, 50 already there (unchanged)" in again.output  # the domain's _() follows the CLI's language
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    assert "0 hồ sơ mới, 50 đã có" in run(app, "frame", "import", str(path), "--unit", "33", "--source", "iGate").output
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    listed = run(app, "frame", "list", "--unit", "33")
    assert "11953\tdat-dai\t50\t15/10/2026–15/10/2026" in listed.output and "Nguyễn" not in listed.output
    preview = run(app, "sample", "design", "--unit", "33", "--from", "01/10/2026", "--to", "31/12/2026", "--save")
    assert preview.exit_code == 0 and "11953\tdat-dai\t50\t45\t" in preview.output  # Cochran N=50 → 44.4 → 45
    design_id = preview.output.strip().rsplit(" ", 2)[-2]
    drawn = run(app, "sample", "draw", design_id, "--seed", "cli-seed")
    record = json.loads(drawn.output)
    assert record["seed"] == "cli-seed" and record["selected"] == 45 and record["frame_size"] == 50
    assert run(app, "sample", "verify", str(record["draw"])).exit_code == 0
    out = tmp_path / "mau.csv"
    exported = run(app, "sample", "export", str(record["draw"]), "--out", str(out), "--base", "https://hl.example.vn")
    assert exported.exit_code == 0, exported.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert sum(r["selected"] == "x" for r in rows) == 45 and rows[0]["survey_link"].startswith("https://hl.example.vn/d/")
    assert [e.action for e in audit_rows(app)][-2:] == ["sample_drawn", "export"]
