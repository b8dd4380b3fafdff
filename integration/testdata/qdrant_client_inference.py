"""Drives server-side inference with the official Python qdrant-client.

Run by integration/qdrant_inference_test.go. It creates a collection with a
named dense vector, a named sparse vector and a BM25 sparse vector (IDF
modifier), upserts points whose vectors are models.Document objects (spladeq's
models and qdrant/bm25), then queries with a Document on each vector and with
three Document prefetches fused by RRF and by DBSF. It prints one JSON object:
{"<query>": {"bm25"|"sparse"|"dense"|"rrf"|"dbsf": [[point_id, score], ...]}}.

cloud_inference=True makes the client send Documents to the server instead of
embedding them itself with fastembed. The client's compatibility check is on:
it reads GET / on http_port (spladeq's HTTP API answers it for the embedded
store), and any warning it prints (stderr) fails the Go test. The check runs
in a thread of its own; main waits for it before exiting.
"""
import json
import sys
import threading

from qdrant_client import QdrantClient, models


def main():
    spec = json.load(sys.stdin)
    kw = dict(host="127.0.0.1", cloud_inference=True, check_compatibility=True, timeout=60)
    if spec["prefer_grpc"]:
        kw.update(grpc_port=spec["grpc_port"], prefer_grpc=True, port=spec.get("http_port") or 1)
    else:
        kw.update(port=spec["http_port"])
    if spec.get("api_key"):
        kw.update(api_key=spec["api_key"], https=False)
    client = QdrantClient(**kw)
    name, sparse, dense = spec["collection"], spec["sparse_model"], spec["dense_model"]
    client.create_collection(
        name,
        vectors_config={"dense": models.VectorParams(size=spec["dense_size"], distance=models.Distance.COSINE)},
        sparse_vectors_config={"splade": models.SparseVectorParams(),
                               "bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    client.upsert(name, wait=True, points=[
        models.PointStruct(id=d["point_id"], payload={"doc_id": d["id"], "text": d["text"]}, vector={
            "splade": models.Document(text=d["text"], model=sparse),
            "dense": models.Document(text=d["text"], model=dense),
            "bm25": models.Document(text=d["text"], model="qdrant/bm25"),
        }) for d in spec["docs"]
    ])
    limit, pre = spec["limit"], spec["prefetch_limit"]
    out = {}
    for q in spec["queries"]:
        sq, dq = models.Document(text=q, model=sparse), models.Document(text=q, model=dense)
        bq = models.Document(text=q, model="qdrant/bm25")
        res = {
            "bm25": client.query_points(name, query=bq, using="bm25", limit=limit).points,
            "sparse": client.query_points(name, query=sq, using="splade", limit=limit).points,
            "dense": client.query_points(name, query=dq, using="dense", limit=limit).points,
        }
        prefetch = [models.Prefetch(query=bq, using="bm25", limit=pre), models.Prefetch(query=sq, using="splade", limit=pre),
                    models.Prefetch(query=dq, using="dense", limit=pre)]
        for fusion in ("rrf", "dbsf"):
            res[fusion] = client.query_points(name, prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion(fusion)),
                                              limit=limit).points
        out[q] = {k: [[str(p.id), p.score] for p in v] for k, v in res.items()}
    json.dump(out, sys.stdout)
    for th in threading.enumerate():
        if th is not threading.main_thread():
            th.join(timeout=30)


if __name__ == "__main__":
    main()
