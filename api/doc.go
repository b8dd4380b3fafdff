// Package api holds the request and response bodies of spladeq's /v1 HTTP
// API: the server (plugin/httpapi) encodes and decodes exactly these types
// and the Go client (package client) sends and reads them, so the two cannot
// drift. It imports the standard library only: no cgo, no model runtime.
//
// The JSON field names are the API's; openapi.json in plugin/httpapi
// describes the same bodies.
package api
