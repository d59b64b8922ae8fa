"""Drives a running Funnel with the clients users already have: the openai and cohere Python SDKs and a
client that openapi-generator generated from openapi/openapi.json (package `funnel_client`).

Usage: check_clients.py URL API_KEY EMBEDDING_MODEL RERANK_MODEL GOLDEN_JSON COLLECTION
Prints one PASS/FAIL line per check and a summary; exits 1 when any check fails.
"""

import base64
import json
import math
import struct
import sys
import traceback

URL, KEY, EMBEDDER, RERANKER, GOLDEN, COLLECTION = sys.argv[1:7]
results = []


def check(name):
    def run(fn):
        try:
            detail = fn()
            results.append((name, True, detail or ""))
        except Exception as error:  # a failed assertion or a client error: report it, go on
            results.append((name, False, f"{type(error).__name__}: {error}"))
            traceback.print_exc(file=sys.stderr)
        return fn

    return run


def norm(vector):
    return math.sqrt(sum(v * v for v in vector))


# -- openai: embeddings as float, base64 and truncated to `dimensions` -------------------------------
import openai

oa = openai.OpenAI(base_url=f"{URL}/v1", api_key=KEY, max_retries=0)


@check(f"openai {openai.__version__}: embeddings, float")
def _():
    out = oa.embeddings.create(model=EMBEDDER, input=["the king ruled the castle", "a river runs"], encoding_format="float")
    assert len(out.data) == 2, out
    dims = len(out.data[0].embedding)
    assert abs(norm(out.data[0].embedding) - 1) < 1e-3, "not unit length"
    return f"2 vectors of {dims} dims, unit length"


@check(f"openai {openai.__version__}: embeddings, base64 (decoded by hand equals float)")
def _():
    as_float = oa.embeddings.create(model=EMBEDDER, input="the king ruled the castle", encoding_format="float").data[0].embedding
    raw = oa.embeddings.create(model=EMBEDDER, input="the king ruled the castle", encoding_format="base64").data[0].embedding
    assert isinstance(raw, str), f"expected a base64 string, got {type(raw).__name__}"
    decoded = struct.unpack(f"<{len(base64.b64decode(raw)) // 4}f", base64.b64decode(raw))
    assert len(decoded) == len(as_float) and max(abs(a - b) for a, b in zip(decoded, as_float)) < 1e-6
    return f"{len(decoded)} little-endian float32"


@check(f"openai {openai.__version__}: embeddings with dimensions=8")
def _():
    out = oa.embeddings.create(model=EMBEDDER, input="the king ruled the castle", dimensions=8)
    vector = out.data[0].embedding
    assert len(vector) == 8 and abs(norm(vector) - 1) < 1e-3, (len(vector), norm(vector))
    return "8 dims, renormalised"


@check(f"openai {openai.__version__}: an unknown model is a BadRequestError naming the models here (no retry)")
def _():
    try:
        oa.embeddings.create(model="no-such/model", input="x")
    except openai.BadRequestError as error:
        assert EMBEDDER in str(error), str(error)
        return f"{error.status_code} {error.code}"
    raise AssertionError("no error raised")


# -- cohere ClientV2: POST /v2/rerank -------------------------------------------------------------
import cohere

co = cohere.ClientV2(base_url=URL, api_key=KEY)
golden = [c for c in json.load(open(GOLDEN))["cases"] if c["query"] == "capital of france"]


@check(f"cohere {cohere.__version__}: ClientV2.rerank, relevance scores in 0..1 in the golden order")
def _():
    documents = [c["passage"] for c in golden] + ["Bananas are yellow and grow in bunches."]
    response = co.rerank(model=RERANKER, query="capital of france", documents=documents)
    scores = [r.relevance_score for r in response.results]
    assert all(0 <= s <= 1 for s in scores), scores
    assert scores == sorted(scores, reverse=True), f"not best first: {scores}"
    assert sorted(r.index for r in response.results) == list(range(len(documents)))
    golden_order = sorted(range(len(golden)), key=lambda i: -golden[i]["logits"][0])
    got_order = [r.index for r in response.results if r.index < len(golden)]
    assert got_order == golden_order, f"order {got_order}, golden {golden_order}"
    assert response.meta.api_version.version == "2", response.meta
    return ", ".join(f"#{r.index}={r.relevance_score:.4f}" for r in response.results)


@check(f"cohere {cohere.__version__}: ClientV2.rerank with top_n=1")
def _():
    response = co.rerank(model=RERANKER, query="capital of france", documents=[c["passage"] for c in golden], top_n=1)
    assert len(response.results) == 1, response.results
    return f"index {response.results[0].index}"


@check(f"cohere {cohere.__version__}: a Cohere model name is a BadRequestError naming Funnel's rerankers")
def _():
    try:
        co.rerank(model="rerank-v3.5", query="q", documents=["a"])
    except cohere.BadRequestError as error:
        assert RERANKER in str(error.body), error.body
        return "400 unknown_model"
    raise AssertionError("no error raised")


# -- the generated client: search with a metadata filter ------------------------------------------
@check("openapi-generator python client: search with filter={'lang': 'en'}")
def _():
    import funnel_client

    config = funnel_client.Configuration(host=URL, access_token=KEY)
    with funnel_client.ApiClient(config) as api:
        # The generator names the search operation's inline body SearchRequest (operationId + Request).
        request = funnel_client.SearchRequest(query="the king ruled the castle", top_k=3, filter={"lang": "en"}, include=["metadata"])
        found = funnel_client.SearchApi(api).search(COLLECTION, request)
        langs = [hit.metadata.get("lang") for hit in found.results]
        assert found.results and all(lang == "en" for lang in langs), langs
        assert found.results[0].id == "castle", [hit.id for hit in found.results]
        collection = funnel_client.CollectionsApi(api).get_collection(COLLECTION)
        assert collection.count == 3, collection
        return f"{len(found.results)} hits, all lang=en, first {found.results[0].id!r}; get_collection count {collection.count}"


failed = [r for r in results if not r[1]]
for name, ok, detail in results:
    print(f"clients: {'PASS' if ok else 'FAIL'} {name}{' - ' + detail if detail else ''}")
print(f"clients: {len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
