"""`manage.py metaanalysis`: JSON on stdout, a readable table, and bad CSVs refused by name."""

import dataclasses
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analytics.evidence import synthesise_evidence
from analytics.meta import pool_studies

JSON_KEYS = {
    "measure",
    "k",
    "fixed",
    "random",
    "heterogeneity",
    "studies",
    "leave_one_out",
    "egger",
    "subgroups",
    "notes",
}
HEADER = "study,events_treated,total_treated,events_control,total_control\n"


def metaanalysis_json(*args) -> dict:
    out = StringIO()
    call_command("metaanalysis", *args, "--json", stdout=out)
    # json.loads would accept NaN; parse_constant makes any NaN or Infinity fail the test.
    return json.loads(out.getvalue(), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))


def write_csv(tmp_path, body: str, header: str = HEADER):
    path = tmp_path / "studies.csv"
    path.write_text(header + body)
    return path


def test_it_prints_the_published_pooling_as_json(published_csv):
    report = metaanalysis_json(str(published_csv))
    assert set(report) == JSON_KEYS
    assert report["measure"] == "RR"
    assert report["k"] == 8
    random = report["random"]
    assert [round(random[key], 2) for key in ("estimate", "ci_low", "ci_high")] == [
        1.98,
        1.44,
        2.73,
    ]
    assert set(random) == {"estimate", "ci_low", "ci_high", "p_value"}
    assert set(report["heterogeneity"]) == {"q", "df", "p_value", "i2", "tau2"}
    assert round(report["heterogeneity"]["i2"], 1) == 63.8
    assert round(report["egger"]["p_value"], 3) == 0.362
    assert report["subgroups"] == {}
    assert report["notes"] == ["Perricone: a zero cell; 0.5 added to all four cells"]


def test_study_rows_carry_ratio_scale_estimates_and_percent_weights(published_csv):
    studies = metaanalysis_json(str(published_csv))["studies"]
    stricker = next(row for row in studies if row["study"] == "Stricker")
    assert set(stricker) == {
        "study",
        "estimate",
        "ci_low",
        "ci_high",
        "weight_fixed",
        "weight_random",
    }
    assert [round(stricker[k], 2) for k in ("estimate", "ci_low", "ci_high")] == [8.64, 2.31, 32.33]
    assert sum(row["weight_random"] for row in studies) == pytest.approx(100)
    assert sum(row["weight_fixed"] for row in studies) == pytest.approx(100)


def test_leave_one_out_rows_name_the_omitted_study(published_csv):
    rows = metaanalysis_json(str(published_csv))["leave_one_out"]
    without_mahmoud = next(row for row in rows if row["omitted"] == "Mahmoud")
    assert set(without_mahmoud) == {"omitted", "estimate", "ci_low", "ci_high", "i2"}
    assert round(without_mahmoud["estimate"], 2) == 2.17


def test_subgroups_come_out_by_value_with_a_null_heterogeneity_for_a_lone_study(published_csv):
    report = metaanalysis_json(str(published_csv), "--subgroup", "ivig_start")
    groups = report["subgroups"]["groups"]
    assert list(groups) == ["after_pregnancy_confirmed", "unspecified", "before_conception"]
    before = groups["before_conception"]["random"]
    assert [round(before[k], 2) for k in ("estimate", "ci_low", "ci_high")] == [4.47, 1.53, 13.05]
    assert groups["unspecified"]["heterogeneity"] is None
    assert "subgroup ivig_start=unspecified: a single study; shown as itself" in report["notes"]


def test_odds_ratios_and_the_fixed_model_are_options(published_csv, published):
    report = metaanalysis_json(str(published_csv), "--measure", "OR", "--model", "fixed")
    assert report["measure"] == "OR"
    # --model picks the estimate leave-one-out reports; both models are always reported overall.
    without_ahmadi = pool_studies(published.iloc[1:], measure="OR").fixed
    assert report["leave_one_out"][0]["omitted"] == "Ahmadi"
    assert report["leave_one_out"][0]["estimate"] == pytest.approx(without_ahmadi.estimate)
    stricker = next(row for row in report["studies"] if row["study"] == "Stricker")
    assert round(stricker["estimate"], 2) == round((38 / 6) / (2 / 18), 2)


def test_two_studies_give_a_null_egger_and_a_note_saying_why(tmp_path):
    path = write_csv(tmp_path, "A,8,10,4,10\nB,6,12,3,10\n")
    report = metaanalysis_json(str(path))
    assert report["egger"] is None
    assert any("Egger's regression test needs at least 3 studies" in n for n in report["notes"])
    assert all(row["i2"] is None for row in report["leave_one_out"])


def test_extra_columns_are_kept_as_attributes_for_subgroups(tmp_path):
    path = write_csv(
        tmp_path,
        "A,8,10,4,10,high\nB,6,12,3,10,high\nC,5,10,5,10,low\n",
        header=HEADER.strip() + ",dose\n",
    )
    report = metaanalysis_json(str(path), "--subgroup", "dose")
    assert list(report["subgroups"]["groups"]) == ["high", "low"]


def test_without_json_it_prints_a_readable_table(published_csv):
    out = StringIO()
    call_command("metaanalysis", str(published_csv), stdout=out)
    text = out.getvalue()
    assert "Random effects (DL)    1.98 [1.44, 2.73]" in text
    assert "Egger's regression test: intercept 1.44, P = 0.362" in text
    assert "without Ramos-Medina" in text


@pytest.mark.parametrize(
    ("body", "row", "column"),
    [
        ("A,8,10,4,10\nB,-2,10,4,10\n", "row 2", "events_treated"),
        ("A,8,10,4,10\nB,2.5,10,4,10\n", "row 2", "events_treated"),
        ("A,8,10,4,10\nB,2,10,4,ten\n", "row 2", "total_control"),
        ("A,11,10,4,10\nB,2,10,4,10\n", "row 1", "events_treated"),
        ("A,8,10,4,10\nB,2,10,12,10\n", "row 2", "events_control"),
        ("A,8,10,4,10\nB,2,10,,10\n", "row 2", "events_control"),
    ],
)
def test_a_bad_csv_fails_naming_row_and_column(tmp_path, body, row, column):
    path = write_csv(tmp_path, body)
    with pytest.raises(CommandError) as error:
        call_command("metaanalysis", str(path), "--json", stdout=StringIO())
    assert row in str(error.value)
    assert f"column '{column}'" in str(error.value)
    assert str(path) in str(error.value)


def test_a_csv_without_a_count_column_is_refused_naming_it(tmp_path):
    path = write_csv(
        tmp_path, "A,8,10,4\n", header="study,events_treated,total_treated,events_control\n"
    )
    with pytest.raises(CommandError, match="missing column\\(s\\) 'total_control'"):
        call_command("metaanalysis", str(path), "--json", stdout=StringIO())


def test_a_single_study_is_refused(tmp_path):
    path = write_csv(tmp_path, "A,8,10,4,10\n")
    with pytest.raises(CommandError, match="at least two studies"):
        call_command("metaanalysis", str(path), "--json", stdout=StringIO())


def test_an_unknown_subgroup_column_is_refused_naming_it(published_csv):
    with pytest.raises(CommandError, match="subgroup column 'dose' is not in the table"):
        call_command("metaanalysis", str(published_csv), "--subgroup", "dose", stdout=StringIO())


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("metaanalysis", str(tmp_path / "nope.csv"), stdout=StringIO())


def test_it_needs_exactly_one_source(published_csv):
    with pytest.raises(CommandError, match="either a CSV path or --from-db"):
        call_command("metaanalysis", stdout=StringIO())
    with pytest.raises(CommandError, match="either a CSV path or --from-db"):
        call_command("metaanalysis", str(published_csv), "--from-db", stdout=StringIO())


def test_a_nan_anywhere_in_the_report_becomes_null_with_a_note(published):
    synthesis = synthesise_evidence(published)
    broken = synthesis.leave_one_out.assign(i2_percent=float("nan"))
    report = dataclasses.replace(synthesis, leave_one_out=broken).as_json()
    assert report["leave_one_out"][0]["i2"] is None
    assert "leave_one_out[0].i2 was nan and is reported as null" in report["notes"]
    json.dumps(report, allow_nan=False)
