package ingest

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/connectors/source/csv"
	"github.com/spladeq/spladeq/connectors/source/files"
	"github.com/spladeq/spladeq/connectors/source/jsonl"
	"github.com/spladeq/spladeq/connectors/source/parquet"
	"github.com/spladeq/spladeq/connectors/source/s3"
)

// OpenSource opens the configured source; ctx bounds the requests of a
// source that makes them (s3) for as long as it is read.
func OpenSource(ctx context.Context, c config.Ingest) (source.Source, error) {
	src := c.Source
	maxLine := c.MaxTextBytes + c.MaxTextBytes/2 + 4096
	delim, _ := utf8.DecodeRuneInString(src.Delimiter)
	switch src.Type {
	case "jsonl":
		return jsonl.Open(src.Path, maxLine)
	case "csv":
		return csv.Open(src.Path, delim)
	case "dir":
		return files.Open(src.Path, src.Include, src.Exclude, int64(c.MaxTextBytes)*4)
	case "parquet":
		return parquet.Open(src.Path, Columns(c.Fields))
	case "s3":
		return s3.Open(ctx, s3.Config{
			Bucket: src.Bucket, Prefix: src.Prefix, Endpoint: src.Endpoint, Region: src.Region, Profile: src.Profile,
			AccessKeyID: src.AccessKeyID, SecretAccessKey: src.SecretAccessKey, SessionToken: src.SessionToken, Anonymous: src.Anonymous,
			Include: src.Include, Exclude: src.Exclude, MaxObjectBytes: int64(c.MaxTextBytes) * 4, MaxLine: maxLine, Delimiter: delim,
			Columns: Columns(c.Fields),
		})
	}
	return nil, fmt.Errorf("ingest.source.type: must be jsonl, csv, dir, parquet or s3, got %q", src.Type)
}

// Columns are the Parquet columns the field mapping reads, each with the
// setting that names it.
func Columns(f config.Fields) []parquet.Column {
	var cols []parquet.Column
	seen := map[string]bool{}
	add := func(name, key string) {
		if name != "" && !seen[name] {
			seen[name] = true
			cols = append(cols, parquet.Column{Name: name, Key: key})
		}
	}
	add(f.ID, "ingest.fields.id")
	for _, t := range f.Text {
		add(t, "ingest.fields.text")
	}
	for _, p := range f.Payload {
		add(p, "ingest.fields.payload")
	}
	add(f.Dense, "ingest.fields.dense")
	return cols
}
