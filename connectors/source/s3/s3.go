// Package s3 reads the objects under a prefix of an S3-compatible bucket
// (AWS S3, MinIO, SeaweedFS, Ceph, versitygw, ...) as records, with the
// parsers of the other sources, chosen by each object's name (.gz is read
// transparently, by content):
//
//   - .txt, .md, .html, .htm and anything else: one document, as the dir
//     source reads a file (files.Document): id and path are the key.
//   - .jsonl and .ndjson: one record per line (the jsonl source).
//   - .csv: one record per row (the csv source).
//   - .parquet: one record per row (the parquet source), read by ranged
//     requests: only the mapped columns' chunks are fetched.
//
// Each object is a unit (source.Unit): its key is "s3://bucket/key", its
// token the ETag the listing gave. The listing happens at Open, so a
// Skipper check can tell unchanged objects before any is downloaded.
//
// Credentials and region come from the AWS SDK's standard chain (the
// AWS_* environment variables, the shared config and credentials files
// and their profiles, SSO, web identity, container and instance roles)
// unless Config names a profile, gives keys, or asks for anonymous
// access. Requests are retried by the SDK's standard retryer (3 attempts,
// exponential backoff with jitter, 5xx and throttling such as 503 SlowDown
// retried; AWS_MAX_ATTEMPTS and AWS_RETRY_MODE change it).
package s3

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/connectors/source/csv"
	"github.com/spladeq/spladeq/connectors/source/files"
	"github.com/spladeq/spladeq/connectors/source/jsonl"
	"github.com/spladeq/spladeq/connectors/source/parquet"
)

// Config says which objects to read and how to reach them.
type Config struct {
	// Bucket is the bucket's name. Required.
	Bucket string
	// Prefix selects the keys that start with it ("docs/"); "" is the
	// whole bucket.
	Prefix string
	// Endpoint is the store's base URL ("http://127.0.0.1:8333"); set, it
	// also means path-style addressing (bucket in the path, not the host
	// name), as MinIO, SeaweedFS and Ceph expect. "" is AWS's endpoint for
	// the region.
	Endpoint string
	// Region signs the requests; "" takes the SDK's (AWS_REGION, the
	// shared config), else us-east-1 when Endpoint is set.
	Region string
	// Profile is a profile of the shared config files; "" is the SDK's
	// (AWS_PROFILE, else default).
	Profile string
	// AccessKeyID and SecretAccessKey (with SessionToken, if any) are used
	// instead of the SDK's chain when both are set.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Anonymous sends unsigned requests (a public bucket).
	Anonymous bool
	// Include and Exclude select keys by their part after Prefix, as the
	// dir source selects paths (files.Matcher; default files.DefaultInclude).
	Include, Exclude []string
	// MaxObjectBytes bounds a document object (decompressed); larger ones
	// are bad records. 0 means 64 MiB.
	MaxObjectBytes int64
	// MaxLine bounds a JSONL line (jsonl.New).
	MaxLine int
	// Delimiter of CSV objects; 0 means ','.
	Delimiter rune
	// Columns are the columns Parquet objects must have.
	Columns []parquet.Column
	// HTTPClient replaces the SDK's HTTP client (tests).
	HTTPClient *http.Client
}

// kind is how an object is parsed.
type kind int

const (
	document kind = iota
	jsonlObject
	csvObject
	parquetObject
)

func kindOf(key string) kind {
	name := strings.ToLower(strings.TrimSuffix(strings.ToLower(key), ".gz"))
	switch path.Ext(name) {
	case ".jsonl", ".ndjson":
		return jsonlObject
	case ".csv":
		return csvObject
	case ".parquet":
		return parquetObject
	}
	return document
}

// object is one listed object.
type object struct {
	key  string
	etag string
	size int64
}

// Source reads the objects under a prefix. Records are numbered
// object<<32 | record (objects and records from 1), so an object skipped
// as unchanged leaves the numbers of the others as they were.
type Source struct {
	cfg     Config
	ctx     context.Context
	client  *s3api.Client
	creds   string // where the credentials came from, for errors
	objects []object
	total   int64 // bytes of the listed objects

	next  int // index of the next object
	child source.Source
	cur   *object
	rr    *rangeReader // the current object's, when it is Parquet
	n     int64        // records of the current object so far

	done    atomic.Int64 // bytes of the objects finished
	curRead atomic.Int64 // bytes of the current object fetched

	check     source.UnitCheck
	unchanged []bool // check's answers for objects[checked-len(unchanged):checked]
	checked   int
}

var (
	_ source.Source    = (*Source)(nil)
	_ source.Skipper   = (*Source)(nil)
	_ source.Scoper    = (*Source)(nil)
	_ source.Versioned = (*Source)(nil)
)

// Open connects, checks the credentials and lists the objects. ctx bounds
// every request the source makes, the later reads too.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("no bucket")
	}
	match, err := files.Matcher(cfg.Include, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, ctx: ctx}
	if err := s.connect(); err != nil {
		return nil, err
	}
	if err := s.list(match); err != nil {
		return nil, err
	}
	return s, nil
}

// connect builds the client from the SDK's configuration chain and the
// explicit settings.
func (s *Source) connect() error {
	cfg := s.cfg
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	switch {
	case cfg.Anonymous:
		opts = append(opts, awsconfig.WithCredentialsProvider(aws.AnonymousCredentials{}))
	case cfg.AccessKeyID != "" && cfg.SecretAccessKey != "":
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(cfg.HTTPClient))
	}
	ac, err := awsconfig.LoadDefaultConfig(s.ctx, opts...)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	if ac.Region == "" {
		if cfg.Endpoint == "" {
			return errors.New("no region: set ingest.source.region, AWS_REGION, or region in the shared config (~/.aws/config)")
		}
		ac.Region = "us-east-1"
	}
	s.creds = "anonymous"
	if !cfg.Anonymous {
		c, err := ac.Credentials.Retrieve(s.ctx)
		if err != nil {
			return fmt.Errorf("no AWS credentials for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ingest.source.profile, or ingest.source.anonymous for a public bucket (%v)", s.url(""), err)
		}
		s.creds = credentialSource(c, cfg)
	}
	s.client = s3api.NewFromConfig(ac, func(o *s3api.Options) {
		// A store that sends no checksum (most but AWS) is read unchecked,
		// quietly: the SDK would log a line per object.
		o.DisableLogOutputChecksumValidationSkipped = true
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
	})
	return nil
}

// credentialSource says where credentials came from, for a person
// reading an error (never the secret).
func credentialSource(c aws.Credentials, cfg Config) string {
	src := c.Source
	switch {
	case cfg.AccessKeyID != "" && cfg.SecretAccessKey != "":
		src = "ingest.source.access_key_id and secret_access_key"
	case src == credentials.StaticCredentialsName:
		src = "static credentials"
	case strings.HasPrefix(src, "EnvConfigCredentials"):
		src = "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
	case strings.HasPrefix(src, "SharedConfigCredentials"):
		file := strings.TrimSpace(strings.TrimPrefix(src, "SharedConfigCredentials:"))
		profile := cfg.Profile
		if profile == "" {
			profile = "the default profile or AWS_PROFILE"
		} else {
			profile = "profile " + strconv.Quote(profile)
		}
		src = fmt.Sprintf("the shared credentials file %s (%s)", file, profile)
	}
	if id := c.AccessKeyID; len(id) > 4 {
		src += fmt.Sprintf(", access key …%s", id[len(id)-4:])
	}
	return src
}

// url is "s3://bucket/key".
func (s *Source) url(key string) string { return "s3://" + s.cfg.Bucket + "/" + key }

// where names the store for errors: the endpoint or AWS's region.
func (s *Source) where() string {
	if s.cfg.Endpoint != "" {
		return s.cfg.Endpoint
	}
	return "AWS region " + s.client.Options().Region
}

// list reads the whole listing, page by page.
func (s *Source) list(match func(string) bool) error {
	p := s3api.NewListObjectsV2Paginator(s.client, &s3api.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket),
		Prefix: aws.String(s.cfg.Prefix),
	})
	pages, keys := 0, 0
	for p.HasMorePages() {
		out, err := p.NextPage(s.ctx)
		if err != nil {
			return s.explain(fmt.Sprintf("list %s (page %d, after %d keys)", s.url(s.cfg.Prefix), pages+1, keys), err)
		}
		pages++
		for _, o := range out.Contents {
			keys++
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue // a "directory" marker
			}
			if !match(strings.TrimPrefix(key, s.cfg.Prefix)) {
				continue
			}
			s.objects = append(s.objects, object{key: key, etag: aws.ToString(o.ETag), size: aws.ToInt64(o.Size)})
			s.total += aws.ToInt64(o.Size)
		}
	}
	return nil
}

// explain turns an S3 error into one that says what to do: a missing
// bucket, refused credentials, or the error with what was being done.
func (s *Source) explain(doing string, err error) error {
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket" || (status == http.StatusNotFound && code == "NotFound"):
		return fmt.Errorf("%s: bucket %q does not exist at %s", doing, s.cfg.Bucket, s.where())
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" ||
		code == "ExpiredToken" || code == "AccessDenied" || code == "AuthorizationHeaderMalformed" || status == http.StatusForbidden ||
		code == "XAdminUserNotFound": // versitygw's answer (404) to an unknown access key
		return fmt.Errorf("%s: %s refused the credentials from %s (%s): %w", doing, s.where(), s.creds, code, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// SkipUnchanged makes Next ask check, before reading objects, which are
// unchanged, and yield one Unchanged record for each instead of
// downloading it.
func (s *Source) SkipUnchanged(check source.UnitCheck) { s.check = check }

// Scope is "s3://bucket/prefix": every unit key this source reads starts
// with it.
func (s *Source) Scope() string { return s.url(s.cfg.Prefix) }

// Version is a digest of the listing (keys, ETags and sizes).
func (s *Source) Version() string {
	h := sha256.New()
	for _, o := range s.objects {
		fmt.Fprintf(h, "%s\x00%s\x00%d\n", o.key, o.etag, o.size)
	}
	return fmt.Sprintf("%d objects, sha256:%x", len(s.objects), h.Sum(nil)[:12])
}

// Progress reports bytes of the listed objects read.
func (s *Source) Progress() (int64, int64, string) {
	cur := s.curRead.Load()
	return s.done.Load() + cur, s.total, "bytes"
}

// Close closes the object being read.
func (s *Source) Close() error {
	if s.child != nil {
		err := s.child.Close()
		s.child = nil
		return err
	}
	return nil
}

// seq numbers record n (from 1) of object i (from 0).
func seq(i int, n int64) int64 { return int64(i+1)<<32 | n }

// Next returns the next record.
func (s *Source) Next() (source.Record, error) {
	for {
		if s.child != nil {
			rec, err := s.fromChild()
			if err != nil || rec != nil {
				if rec == nil {
					return source.Record{}, err
				}
				return *rec, err
			}
			continue // the object is done
		}
		if s.next >= len(s.objects) {
			return source.Record{}, io.EOF
		}
		if err := s.checkBatch(); err != nil {
			return source.Record{}, err
		}
		i := s.next
		o := &s.objects[i]
		s.next++
		rec := source.Record{Seq: seq(i, 1), Where: s.url(o.key), Unit: s.url(o.key), Token: o.etag}
		if s.check != nil && s.unchanged[i-(s.checked-len(s.unchanged))] {
			rec.Unchanged = true
			s.done.Add(o.size)
			return rec, nil
		}
		switch kindOf(o.key) {
		case document:
			s.curRead.Store(0)
			err := s.readDocument(o, &rec)
			s.curRead.Store(0)
			s.done.Add(o.size)
			if err != nil {
				return source.Record{}, err
			}
			return rec, nil
		default:
			child, err := s.open(o)
			var fe *fetchError
			switch {
			case errors.As(err, &fe) && fe.gone:
				s.done.Add(o.size)
				rec.Err, rec.Raw = errGone, s.url(o.key)
				return rec, nil
			case errors.As(err, &fe):
				return source.Record{}, s.explain("read "+s.url(o.key), err)
			case err != nil:
				// Not readable as its type says (no header, not Parquet,
				// missing columns): the object is a bad record.
				s.done.Add(o.size)
				rec.Err, rec.Raw = err, s.url(o.key)
				return rec, nil
			}
			s.child, s.cur, s.n = child, o, 0
		}
	}
}

// fromChild returns the current object's next record, or nil and nil when
// it has no more (the object is closed and counted done).
func (s *Source) fromChild() (*source.Record, error) {
	o := s.cur
	i := s.next - 1
	rec, err := s.child.Next()
	if s.rr != nil && s.rr.err != nil {
		// parquet-go may not wrap its reader's error: the range reader
		// remembers it.
		err = s.rr.err
	}
	if err == nil {
		s.n++
		rec.Seq = seq(i, s.n)
		rec.Unit, rec.Token = s.url(o.key), o.etag
		return &rec, nil
	}
	s.child.Close()
	s.child, s.cur, s.rr = nil, nil, nil
	s.curRead.Store(0)
	s.done.Add(o.size)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	var fe *fetchError
	if errors.As(err, &fe) {
		return nil, s.explain("read "+s.url(o.key), err)
	}
	// The object's data is broken past this point (corrupt gzip or
	// Parquet): a bad record for the rest of it; the records before it
	// stand.
	s.n++
	return &source.Record{Seq: seq(i, s.n), Where: fmt.Sprintf("%s (after record %d)", s.url(o.key), s.n-1),
		Unit: s.url(o.key), Token: o.etag, Raw: s.url(o.key), Err: err}, nil
}

// checkBatch asks the unit check about the next objects when the answers
// so far are used up.
func (s *Source) checkBatch() error {
	if s.check == nil || s.next < s.checked {
		return nil
	}
	end := min(s.next+source.MaxCheckBatch, len(s.objects))
	units := make([]source.Unit, 0, end-s.next)
	for i := s.next; i < end; i++ {
		units = append(units, source.Unit{Key: s.url(s.objects[i].key), Token: s.objects[i].etag})
	}
	unchanged, err := s.check(units)
	if err != nil {
		return err
	}
	if len(unchanged) != len(units) {
		return fmt.Errorf("unit check answered %d of %d objects", len(unchanged), len(units))
	}
	s.unchanged, s.checked = unchanged, end
	return nil
}

// readDocument downloads a document object into rec; an error is fatal
// (the object could not be fetched), a bad object is rec.Err.
func (s *Source) readDocument(o *object, rec *source.Record) error {
	rec.Raw = s.url(o.key)
	body, err := s.get(o, s.url(o.key))
	if err != nil {
		var fe *fetchError
		if errors.As(err, &fe) && fe.gone {
			rec.Err = errGone
			return nil
		}
		return s.explain("read "+s.url(o.key), err)
	}
	f, err := source.NewFile(s.url(o.key), body, o.size)
	if err != nil {
		body.Close()
		rec.Err = err
		return nil
	}
	defer f.Close()
	limit := s.cfg.MaxObjectBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	var fe *fetchError
	switch {
	case errors.As(err, &fe):
		return s.explain("read "+s.url(o.key), err)
	case err != nil:
		rec.Err = fmt.Errorf("read: %w", err)
		return nil
	case int64(len(data)) > limit:
		rec.Err = fmt.Errorf("object is over %d bytes", limit)
		return nil
	}
	rec.Fields, rec.Err = files.Document(o.key, data)
	return nil
}

// open starts reading a multi-record object; s.curRead counts its bytes
// fetched.
func (s *Source) open(o *object) (source.Source, error) {
	s.curRead.Store(0)
	name := s.url(o.key)
	switch kindOf(o.key) {
	case parquetObject:
		r := &rangeReader{s: s, o: o}
		p, err := parquet.New(r, o.size, name, name, s.cfg.Columns, nil)
		if r.err != nil {
			return nil, r.err // the fetch failed, not the format
		}
		if err != nil {
			return nil, err
		}
		s.rr = r
		return p, nil
	}
	body, err := s.get(o, name)
	if err != nil {
		return nil, err
	}
	f, err := source.NewFile(name, body, o.size)
	if err != nil {
		body.Close()
		return nil, err
	}
	if kindOf(o.key) == csvObject {
		return csv.New(f, name, name, s.cfg.Delimiter)
	}
	return jsonl.New(f, name, name, s.cfg.MaxLine), nil
}

// errGone is the bad record of an object deleted between the listing and
// its download.
var errGone = errors.New("the object was deleted after the bucket was listed")

// fetchError is a failure to fetch an object's bytes (after the SDK's
// retries), as opposed to bytes that do not parse: it stops the run, which
// a re-run resumes.
type fetchError struct {
	key  string
	gone bool // the object no longer exists
	err  error
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

func (s *Source) fetchErr(o *object, err error) error {
	var ae smithy.APIError
	gone := errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		err = fmt.Errorf("the object changed while it was being read (its ETag is no longer %s); run again: %w", o.etag, err)
	}
	return &fetchError{key: o.key, gone: gone, err: err}
}

// bodyResumes bounds how often a broken download is resumed where it
// broke.
const bodyResumes = 3

// get opens an object's body. The object's ETag becomes the one the
// response carries (the content read), and a download that breaks is
// resumed from where it broke, for that ETag only.
func (s *Source) get(o *object, name string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(s.ctx, &s3api.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(o.key)})
	if err != nil {
		return nil, s.fetchErr(o, err)
	}
	if e := aws.ToString(out.ETag); e != "" {
		o.etag = e
	}
	return &body{s: s, o: o, rc: out.Body}, nil
}

// body is an object's content, resumed by ranged requests when the
// connection breaks.
type body struct {
	s       *Source
	o       *object
	rc      io.ReadCloser
	off     int64
	resumes int
}

func (b *body) Read(p []byte) (int, error) {
	for {
		n, err := b.rc.Read(p)
		b.off += int64(n)
		b.s.curRead.Add(int64(n))
		if err == nil || errors.Is(err, io.EOF) || n > 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				err = nil // reported on the next call, after these bytes
			}
			return n, err
		}
		if b.s.ctx.Err() != nil || b.resumes >= bodyResumes || (b.o.size > 0 && b.off >= b.o.size) {
			return 0, &fetchError{key: b.o.key, err: fmt.Errorf("download broke at byte %d: %w", b.off, err)}
		}
		b.resumes++
		b.rc.Close()
		out, gerr := b.s.client.GetObject(b.s.ctx, &s3api.GetObjectInput{Bucket: aws.String(b.s.cfg.Bucket), Key: aws.String(b.o.key),
			Range: aws.String(fmt.Sprintf("bytes=%d-", b.off)), IfMatch: aws.String(b.o.etag)})
		if gerr != nil {
			b.rc = io.NopCloser(strings.NewReader(""))
			return 0, b.s.fetchErr(b.o, fmt.Errorf("resume the download at byte %d (after %v): %w", b.off, err, gerr))
		}
		b.rc = out.Body
	}
}

func (b *body) Close() error { return b.rc.Close() }

// rangeReader reads an object by ranged requests (a Parquet file's
// footer, then the column chunks a job needs), each for the ETag the
// listing gave, so all the pieces come from one version of the object.
type rangeReader struct {
	s   *Source
	o   *object
	err error // the first fetch failure
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.o.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.o.size)
	want := int(end - off)
	var lastErr error
	for attempt := 0; attempt <= bodyResumes; attempt++ {
		out, err := r.s.client.GetObject(r.s.ctx, &s3api.GetObjectInput{Bucket: aws.String(r.s.cfg.Bucket), Key: aws.String(r.o.key),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end-1)), IfMatch: aws.String(r.o.etag)})
		if err != nil {
			lastErr = r.s.fetchErr(r.o, err)
			break // the SDK retried already
		}
		n, err := io.ReadFull(out.Body, p[:want])
		out.Body.Close()
		r.s.curRead.Add(int64(n))
		if err == nil {
			if want < len(p) {
				return want, io.EOF
			}
			return want, nil
		}
		lastErr = &fetchError{key: r.o.key, err: fmt.Errorf("read bytes %d-%d: %w", off, end-1, err)}
		if r.s.ctx.Err() != nil {
			break
		}
	}
	if r.err == nil {
		r.err = lastErr
	}
	return 0, lastErr
}
