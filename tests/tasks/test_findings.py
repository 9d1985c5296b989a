from tasks.gaussian_mixture.findings import check_findings
from tasks.gaussian_mixture.suite import GaussianMixture


def test_every_finding_holds_on_the_papers_own_table():
    paper = GaussianMixture.paper_reference()
    lines = check_findings(paper, paper)
    assert len(lines) == 9 and all("**reproduced**" in line for line in lines), lines


def test_a_broken_ordering_is_reported_as_not_reproduced():
    paper = GaussianMixture.paper_reference()
    ours = {m: dict(v) for m, v in paper.items()}
    ours["muni"]["unconditional/coherence_mse"] = 10.0
    lines = check_findings(ours, paper)
    assert "MUNI has the best unconditional coherence: **not reproduced**" in lines[0]
    assert "ours: muni coherence 10, best other coherence: mvae 0.2801;" in lines[0]
    assert "paper: muni coherence 0.0394" in lines[0]


def test_missing_methods_are_named():
    paper = GaussianMixture.paper_reference()
    ours = {m: v for m, v in paper.items() if m != "shala"}
    assert "cannot check here (no results for shala)" in check_findings(ours, paper)[0]
