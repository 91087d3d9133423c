"""A coordinator in a real browser: imports a frame with a title row and two bad rows, maps the
columns, watches the import job's page turn into its report, previews a design, draws with a seed, downloads the fieldwork list, records a returned
paper form and sees the response rate; axe finds nothing on the way."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from survey.staff import jobs
from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.sampling.conftest import HEADER, frame_rows
from tests.staff.conftest import PASSWORD, as_role, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_coordinator_import_design_draw_export_and_track(live_server, page, tree, tmp_path):  # noqa: F811
    page.set_viewport_size(DESK)
    csp = []
    page.on("console", lambda m: csp.append(m.text) if m.type == "error" else None)
    frame = tmp_path / "ds-quy4.csv"
    lines = ["DANH SÁCH HỒ SƠ ĐÃ GIẢI QUYẾT,,,,,,,", HEADER, *frame_rows(20), *frame_rows(8, field="tu-phap-ho-tich"),
             "HS-BAD-1,11953,dat-dai,32/10/2026,,,,", "HS-BAD-2,99999,dat-dai,15/10/2026,,,,"]
    frame.write_text("\ufeff" + "\n".join(lines), encoding="utf-8")

    log_in(page, live_server.url, tree.users["coordinator"], PASSWORD)
    page.get_by_role("link", name="Khung mẫu và chọn mẫu khảo sát").click()
    page.get_by_role("link", name="Khung mẫu", exact=True).click()
    assert axe_violations(page) == []
    page.get_by_label("Tệp danh sách hồ sơ").set_input_files(str(frame))
    page.get_by_label("Phần mềm nguồn").fill("Một cửa điện tử")
    with page.expect_navigation():
        page.get_by_role("button", name="Tải lên và ghép cột").click()
    assert page.locator("h1").inner_text() == "Ghép cột của tệp"
    assert page.get_by_label("Mã hồ sơ *").input_value() == "Mã hồ sơ"  # guessed from the header words
    assert axe_violations(page) == []
    live_server.app.config["STAFF_JOBS"] = "manual"  # the job waits, so the page is seen running first
    with page.expect_navigation():
        page.get_by_role("button", name="Nhập khung mẫu").click()
    assert "/staff/sampling/frame-jobs/" in page.url and page.locator("#job-state").inner_text() == "Đang chờ"
    assert axe_violations(page) == []
    assert jobs.run(live_server.app, int(page.url.rsplit("/", 1)[1])) == "done"
    page.get_by_text("28 hồ sơ mới").wait_for(timeout=30_000)  # job-poll.js swaps the report in, no reload
    assert page.locator("#job-state").inner_text() == "Đã xong" and "2 dòng bị từ chối" in page.content()
    rejected = page.locator("table tbody tr")
    assert rejected.count() == 2 and "32/10/2026" in rejected.nth(0).inner_text()
    assert axe_violations(page) == []

    page.get_by_role("link", name="Thiết kế và rút mẫu").click()
    page.get_by_label("Từ ngày (ngày hoàn thành hồ sơ)").fill("01/10/2026")
    page.get_by_label("Đến ngày").fill("31/12/2026")
    page.get_by_label("Cỡ mẫu nhập tay (không bắt buộc)").fill("7")
    with page.expect_navigation():
        page.get_by_role("button", name="Xem trước").click()
    assert "phân bổ 7 phiếu" in page.content()
    assert axe_violations(page) == []
    page.get_by_label("Hạt giống (seed) của lần rút").fill("quy4-2026")
    with page.expect_navigation():
        page.get_by_role("button", name="Rút mẫu theo thiết kế này").click()
    assert "quy4-2026" in page.content() and "Khớp" in page.content()
    assert axe_violations(page) == []

    with page.expect_download() as download:
        page.get_by_role("link", name="Tải danh sách cho bưu điện / tổ gọi điện (Excel)").click()
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    chosen = [r for r in rows[1:] if r[1] == "x"]
    assert len(chosen) == 7 and all(str(r[-2]).startswith(f"{live_server.url}/d/") for r in chosen)

    page.get_by_label("Mã người trả lời").fill(chosen[0][0])
    page.get_by_label("Trạng thái mới").select_option(label="Đã nhận phiếu giấy")
    with page.expect_navigation():
        page.get_by_role("button", name="Ghi trạng thái").click()
    assert "Đã nhận phiếu giấy" in page.locator(".flashes").inner_text()
    # 7 forms over 20 : 8 dossiers → 5 and 2; one returned form gives RR1 1/5 or 1/2 in its stratum
    expected = "20,0%" if chosen[0][4].endswith("dat-dai") else "50,0%"
    assert expected in page.locator("#rates-caption").locator("xpath=..").inner_text()
    assert axe_violations(page) == []
    assert not [m for m in csp if "Content Security Policy" in m]
