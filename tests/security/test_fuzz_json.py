"""Issue 15: Hypothesis fuzzes the JSON endpoints — bodies of any shape (deep nesting, lone
surrogate escapes, wrong types, raw bytes), any query string, any id — and not one answer
may be a 5xx. Every answer of the API is JSON."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=80,
    database=None,  # no .hypothesis folder in the work tree; failures print their example
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=20), children, max_size=5),
    ),
    max_leaves=30,
)
field_names = st.sampled_from(
    ["body", "comment_type", "proposed_change", "quote", "paragraph", "parent_id", "anonymous"]
)
comment_like = st.dictionaries(field_names, json_values, max_size=7)


@st.composite
def hostile_bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["object", "any", "deep", "surrogate", "bytes", "constants"]))
    if kind == "object":
        return json.dumps(draw(comment_like)).encode()
    if kind == "any":
        return json.dumps(draw(json_values)).encode()
    if kind == "deep":
        depth = draw(st.integers(min_value=20, max_value=5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + "1" + closer * depth).encode()
    if kind == "surrogate":
        escape = draw(st.sampled_from(["\\ud800", "\\udfff", "\\udbff\\u0041", "\\ud83d"]))
        where = draw(st.sampled_from(["value", "key"]))
        text = '{"body": "x' + escape + 'y"}' if where == "value" else '{"' + escape + '": 1}'
        return text.encode()
    if kind == "constants":
        return draw(st.sampled_from([b'{"body": NaN}', b'{"parent_id": Infinity}', b"-Infinity"]))
    return draw(st.binary(max_size=500))


query_values = st.text(max_size=100) | st.sampled_from(
    ["-1", "0", "99999999999999999999", "1e400", "%00", "[]", "{}", "\u202e", "' OR 1=1 --"]
)
query_strings = st.dictionaries(
    st.sampled_from(["q", "page", "per_page", "type", "region", "country", "lang", "sort", "x"]),
    query_values,
    max_size=5,
)
ids = st.integers(min_value=-(2**40), max_value=2**70)


def _assert_json_answer(resp) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == "application/json", resp.mimetype


def test_fuzz_post_comment_body(client, world):
    url = f"/api/v1/reviews/rounds/{world.review_round.id}/comments"

    @SETTINGS
    @given(body=hostile_bodies(), content_type=st.sampled_from(["application/json", "text/plain"]))
    def run(body, content_type):
        resp = client.post(url, data=body, content_type=content_type, headers=world.token_headers)
        _assert_json_answer(resp)

    run()


def test_fuzz_review_api_ids_and_queries(client, world):
    @SETTINGS
    @given(round_id=ids, query=query_strings, which=st.sampled_from(["", "/comments"]))
    def run(round_id, query, which):
        path = f"/api/v1/reviews/rounds/{round_id}{which}"
        _assert_json_answer(client.get(path, query_string=query, headers=world.token_headers))
        path = f"/api/v1/reviews/rounds/{world.review_round.id}{which}"
        _assert_json_answer(client.get(path, query_string=query, headers=world.token_headers))

    run()


def test_fuzz_search_api_and_suggestions(client, world):
    @SETTINGS
    @given(query=query_strings, multi=st.lists(query_values, max_size=4))
    def run(query, multi):
        _assert_json_answer(client.get("/api/v1/search", query_string=query))
        _assert_json_answer(
            client.get("/api/v1/search", query_string=[("type", v) for v in multi] + [("q", "a")])
        )
        _assert_json_answer(client.get("/search/suggest", query_string=query))

    run()
