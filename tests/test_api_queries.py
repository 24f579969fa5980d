"""List endpoints run a fixed number of queries however many rows they return."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api_cohort import site_rows, token_client

pytestmark = pytest.mark.django_db

LISTS = [
    "patients",
    "consents",
    "immune-tests",
    "cycles",
    "planned-doses",
    "infusions",
    "transfers",
    "pregnancies",
    "visits",
    "outcomes",
    "infants",
    "adverse-events",
    "sites",
    "protocols",
    "products",
]

# Pinned: a change here is a change in what the endpoint asks of the database; look before
# updating. Every request opens and closes its transaction (2, here savepoints carrying the
# audit context); a token costs 3 (token and user, the user's and the groups' permissions); a
# paged list 2 more (count, page), with staff rows joined to their site memberships in the same
# queries. Sites and products are not paged (1); protocols add their maintenance phases (2).
PINNED = dict.fromkeys(LISTS, 7) | {"sites": 6, "protocols": 7, "products": 6}


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


@pytest.mark.parametrize("endpoint", LISTS)
@pytest.mark.parametrize("who", ["alice", "rita"])
def test_a_list_runs_the_same_queries_for_one_row_or_many(cast, site_a, endpoint, who):
    client = token_client(cast[who])
    url = f"/api/v1/{endpoint}/?page_size=200"
    site_rows(site_a)
    few = count_queries(client, url)
    for _ in range(4):
        site_rows(site_a)
    many = count_queries(client, url)
    assert few == many


@pytest.mark.parametrize("endpoint", LISTS)
def test_each_list_runs_its_pinned_number_of_queries(
    cast, site_a, endpoint, django_assert_num_queries
):
    client = token_client(cast["alice"])
    site_rows(site_a)
    site_rows(site_a)
    with django_assert_num_queries(PINNED[endpoint]):
        assert client.get(f"/api/v1/{endpoint}/").status_code == 200
