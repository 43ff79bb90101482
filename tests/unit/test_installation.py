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


# --- a copy of an installation: the same identity, another ledger -------------------------------------------

from lifecycle_config.installation import (  # noqa: E402
    LOCATION_PREFIX, claimed_locations, configuration_differences, foreign_location, ledger_location, location_tag,
    served_elsewhere, with_location, without_password)

ORIGINAL = "sqlite:////srv/hA/ledger.db"
COPY = "sqlite:////srv/hC/ledger.db"


def test_a_ledger_is_placed_by_its_resolved_file_or_its_url_without_the_password(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert ledger_location(f"sqlite:///{tmp_path}/link/../real/ledger.db") == f"sqlite:///{tmp_path}/real/ledger.db"
    assert ledger_location(f"sqlite:///{tmp_path}/link/ledger.db") == f"sqlite:///{tmp_path}/real/ledger.db"
    assert ledger_location("postgresql+psycopg://lifecycle:s3cret@db:5432/ledger") == \
        "postgresql+psycopg://lifecycle:***@db:5432/ledger"
    assert without_password("s3://AKIA:very-secret@bucket/objects") == "s3://AKIA:***@bucket/objects"
    assert without_password("file:///srv/hA/objects") == "file:///srv/hA/objects"


def test_a_run_meant_for_a_copy_of_this_ledger_is_refused_naming_both_places():
    assert location_tag(ORIGINAL) == f"{LOCATION_PREFIX}{ORIGINAL}"
    tags = with_location(["billing", tag(HOME1), location_tag(COPY)], ORIGINAL)
    assert claimed_locations(tags) == {ORIGINAL} and claimed(tags) == {HOME1}
    assert foreign_location({ORIGINAL}, ORIGINAL, home="/srv/hA") is None
    assert foreign_location(set(), ORIGINAL, home="/srv/hA") is None  # an older release's run: the identity rules
    problem = foreign_location({COPY}, ORIGINAL, home="/srv/hA")
    assert problem is not None and "\n" not in problem
    assert COPY in problem and ORIGINAL in problem and "nothing was done" in problem


def test_a_server_whose_worker_serves_a_copy_or_the_original_is_refused_naming_both_places():
    served = {"installation": HOME1, "ledger": ORIGINAL, "config": {}}
    assert served_elsewhere(served, ORIGINAL, api_url="http://127.0.0.1:4300/api", home="/srv/hA") is None
    assert served_elsewhere(None, COPY, api_url="http://127.0.0.1:4300/api", home="/srv/hC") is None  # says nothing
    problem = served_elsewhere(served, COPY, api_url="http://127.0.0.1:4300/api", home="/srv/hC")
    assert problem is not None and "\n" not in problem
    assert ORIGINAL in problem and COPY in problem and HOME1 in problem and "http://127.0.0.1:4300/api" in problem
    assert "nothing was done" in problem and "lifecycle up" in problem


def test_the_configuration_a_worker_runs_with_is_compared_without_passwords():
    recorded = {"LIFECYCLE_TODAY": "", "LIFECYCLE_DATABASE_URL": "postgresql://u:***@db/ledger"}
    mine = {"LIFECYCLE_TODAY": "", "LIFECYCLE_DATABASE_URL": "postgresql://u:pw@db/ledger"}
    assert configuration_differences(recorded, mine, lambda name: None) == []
    assert configuration_differences(recorded, {**mine, "LIFECYCLE_TODAY": "2026-12-07"}, lambda name: None) == \
        ["LIFECYCLE_TODAY"]
    # a variable the worker runs without differs only when this command sets it
    assert configuration_differences(recorded, {**mine, "LIFECYCLE_X": ""}, lambda name: None) == []
    assert configuration_differences(recorded, {**mine, "LIFECYCLE_X": "1"}, lambda name: "1") == ["LIFECYCLE_X"]
    assert configuration_differences(None, mine, lambda name: "1") == []


def test_a_link_to_a_server_listening_on_every_address_names_the_machine():
    """Issue 24 (L3): `up --host 0.0.0.0` handed out links to http://0.0.0.0:PORT, no address anyone can reach: a
    wildcard is linked as the machine's host name (127.0.0.1 when the machine cannot resolve it), any other
    address as given, an IPv6 one in brackets as a URL writes it."""
    import socket

    from lifecycle_config.installation import link_host

    machine = socket.gethostname()
    try:
        socket.getaddrinfo(machine, None)
    except OSError:
        machine = "127.0.0.1"
    assert [link_host(host) for host in ("0.0.0.0", "::", "127.0.0.1", "::1", "prefect.internal")] == [
        machine, machine, "127.0.0.1", "[::1]", "prefect.internal"]
