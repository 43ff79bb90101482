"""The rule that keeps one installation off another's ledger: which runs and which servers are refused."""

from lifecycle_config.installation import TAG_PREFIX, claimed, foreign_run, foreign_server, tag, with_tag

HOME1 = "6f1c0e7a-0000-4000-8000-000000000001"
HOME2 = "6f1c0e7a-0000-4000-8000-000000000002"


def test_a_runs_tags_name_the_installations_it_was_meant_for():
    assert tag(HOME1) == f"{TAG_PREFIX}{HOME1}"
    assert claimed(["billing", "monthly", tag(HOME1), "auto-scheduled"]) == {HOME1}
    assert claimed([tag(HOME1), tag(HOME2)]) == {HOME1, HOME2}
    assert claimed(["billing"]) == set() and claimed(None) == set()


def test_a_deployment_names_one_installation_however_often_it_is_tagged():
    assert with_tag(["billing", tag(HOME2)], HOME1) == ["billing", tag(HOME1)]
    assert with_tag(None, HOME1) == [tag(HOME1)]


def test_a_run_meant_for_this_ledger_or_for_none_runs():
    assert foreign_run({HOME1}, HOME1, home="/srv/home1") is None
    assert foreign_run(set(), HOME1, home="/srv/home1") is None   # in process: this ledger's own run


def test_a_run_meant_for_another_ledger_is_refused_in_one_line_naming_both():
    problem = foreign_run({HOME2}, HOME1, home="/srv/home1")
    assert problem is not None and "\n" not in problem
    assert HOME2 in problem and HOME1 in problem and "/srv/home1" in problem and "nothing was done" in problem


def test_a_run_that_names_this_ledger_and_another_is_refused():
    # a deployment of home1's server started by home2's in-process run: the deployment's tag and its starter's
    problem = foreign_run({HOME1, HOME2}, HOME1, home="/srv/home1")
    assert problem is not None and HOME2 in problem


def test_a_server_registered_by_another_installation_is_refused_naming_both_and_what_to_do():
    problem = foreign_server(HOME1, HOME2, api_url="http://127.0.0.1:4200/api", home="/srv/home2")
    assert problem is not None and "\n" not in problem
    assert all(part in problem for part in (HOME1, HOME2, "http://127.0.0.1:4200/api", "/srv/home2",
                                            "PREFECT_API_URL", "LIFECYCLE_HOME"))


def test_a_server_of_this_installation_or_of_none_is_used():
    assert foreign_server(HOME2, HOME2, api_url="http://x/api", home="/h") is None
    assert foreign_server(None, HOME2, api_url="http://x/api", home="/h") is None  # a temporary server
