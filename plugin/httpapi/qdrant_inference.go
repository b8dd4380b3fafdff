package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spladeq/spladeq/internal/apikey"
	"github.com/spladeq/spladeq/internal/text"
	"github.com/spladeq/spladeq/plugin"
)

// This file speaks Qdrant's server-side inference protocol (Qdrant 1.17,
// src/common/inference/service.rs): Qdrant POSTs the Documents of one
// request to its configured inference.address and stores or searches the
// vectors that come back. It only translates; the work is Service.Infer.
//
//	request  {"inputs": [{"data": "<text>", "data_type": "text", "model": "<name>", "options": {…}|null}],
//	          "inference": "update"|"search"|null, "token": "<string>"|null}
//	200      {"embeddings": [[f32…] | {"indices": […], "values": […]}, …], "usage": {"models": {"<name>": {"tokens": N}}}}
//	400/401  {"error": "<message>"}; 429 with Retry-After (seconds); 5xx {"error": …}

type qdrantInferenceRequest struct {
	Inputs    []json.RawMessage `json:"inputs"`
	Inference *string           `json:"inference"`
	Token     *string           `json:"token"`
}

type qdrantInferenceInput struct {
	Data     json.RawMessage `json:"data"`
	DataType string          `json:"data_type"`
	Model    *string         `json:"model"`
	Options  map[string]any  `json:"options"`
}

type qdrantSparse struct {
	Indices []uint32  `json:"indices"`
	Values  []float32 `json:"values"`
}

type qdrantModelUsage struct {
	Tokens int `json:"tokens"`
}

type qdrantInferenceResponse struct {
	Embeddings []any `json:"embeddings"`
	Usage      struct {
		Models map[string]qdrantModelUsage `json:"models"`
	} `json:"usage"`
}

// qdrantInferenceError is Qdrant's inference error body.
type qdrantInferenceError struct {
	Error string `json:"error"`
}

// qdrantError writes Qdrant's inference error body.
func qdrantError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, qdrantInferenceError{Error: msg})
}

// inferenceTokenOK checks the body's token (or, for a direct call, the
// request's API key header) against server.inference_tokens and the API
// keys, in constant time; with none configured every call is allowed.
func (h *handler) inferenceTokenOK(r *http.Request, token *string) (bool, string) {
	keys := append(append(append([]string{}, h.cfg.InferenceTokens...), h.cfg.APIKeys...), h.cfg.ReadOnlyAPIKeys...)
	if len(keys) == 0 {
		return true, ""
	}
	got := ""
	if token != nil {
		got = *token
	}
	if got == "" {
		got = apikey.FromRequest(r)
	}
	if got == "" {
		return false, "missing token: set the same token in Qdrant's inference.token (QDRANT__INFERENCE__TOKEN) and in spladeq's server.inference_tokens"
	}
	if !apikey.Match(got, keys) {
		return false, "invalid token"
	}
	return true, ""
}

func (h *handler) qdrantInference(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(r.Body)
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		qdrantError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the %d-byte limit (server.max_body_bytes)", maxErr.Limit))
		return nil
	} else if err != nil {
		return err
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD, embedding text
	// the client never sent.
	if off := text.FirstInvalidUTF8(data); off >= 0 {
		qdrantError(w, http.StatusBadRequest, fmt.Sprintf("body: not valid UTF-8 at byte offset %d", off))
		return nil
	}
	var req qdrantInferenceRequest
	if err := json.Unmarshal(data, &req); err != nil {
		qdrantError(w, http.StatusBadRequest, "body: "+jsonProblem(err))
		return nil
	}
	if ok, msg := h.inferenceTokenOK(r, req.Token); !ok {
		h.svc.Metrics().Errors.WithLabelValues("unauthorized").Inc()
		qdrantError(w, http.StatusUnauthorized, msg)
		return nil
	}
	query := false
	if req.Inference != nil {
		switch *req.Inference {
		case "search":
			query = true
		case "update":
		default:
			qdrantError(w, http.StatusBadRequest, fmt.Sprintf(`inference: must be "update" or "search", got %q`, *req.Inference))
			return nil
		}
	}
	inputs, problems := parseQdrantInputs(req.Inputs)
	if len(problems) > 0 {
		h.svc.Metrics().Errors.WithLabelValues("invalid_input").Inc()
		qdrantError(w, http.StatusBadRequest, strings.Join(problems, "; "))
		return nil
	}
	outs, err := h.svc.Infer(r.Context(), inputs, query)
	var ie *plugin.InputError
	switch {
	case errors.As(err, &ie):
		h.svc.Metrics().Errors.WithLabelValues("invalid_input").Inc()
		qdrantError(w, http.StatusBadRequest, ie.Error())
		return nil
	case errors.Is(err, plugin.ErrOverloaded):
		h.svc.Metrics().Errors.WithLabelValues("overloaded").Inc()
		w.Header().Set("Retry-After", "1")
		qdrantError(w, http.StatusTooManyRequests, "spladeq's encode queue is full; retry after 1 s")
		return nil
	case err != nil:
		return err
	}
	resp := qdrantInferenceResponse{Embeddings: make([]any, len(outs))}
	resp.Usage.Models = map[string]qdrantModelUsage{}
	perModel := map[string]int{} // inputs per model, for the log
	for i, o := range outs {
		if o.Sparse != nil {
			sp := qdrantSparse{Indices: o.Sparse.Indices, Values: o.Sparse.Values}
			if sp.Indices == nil {
				sp.Indices, sp.Values = []uint32{}, []float32{}
			}
			resp.Embeddings[i] = sp
		} else {
			resp.Embeddings[i] = o.Dense
		}
		u := resp.Usage.Models[inputs[i].Model]
		u.Tokens += o.Tokens
		resp.Usage.Models[inputs[i].Model] = u
		perModel[inputs[i].Model]++
	}
	// One line per call, per model: inputs and tokens (the request line
	// itself is logged by wrap).
	kind := "update"
	if query {
		kind = "search"
	}
	for name, u := range resp.Usage.Models {
		h.log.Info("qdrant inference", "model", name, "inference", kind, "inputs", perModel[name], "tokens", u.Tokens)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// parseQdrantInputs checks every input and names each problem by its
// index.
func parseQdrantInputs(raw []json.RawMessage) ([]plugin.InferenceInput, []string) {
	var problems []string
	if len(raw) == 0 {
		return nil, []string{"inputs: must be a non-empty array"}
	}
	inputs := make([]plugin.InferenceInput, len(raw))
	for i, r := range raw {
		field := fmt.Sprintf("inputs[%d]", i)
		var in qdrantInferenceInput
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			problems = append(problems, field+": "+jsonProblem(err))
			continue
		}
		if in.DataType != "text" {
			problems = append(problems, fmt.Sprintf("%s.data_type: %q is not supported; spladeq embeds text (Document) only", field, in.DataType))
			continue
		}
		var data string
		if err := json.Unmarshal(in.Data, &data); err != nil {
			problems = append(problems, fmt.Sprintf("%s.data: must be a string for data_type text", field))
			continue
		}
		if in.Model == nil {
			problems = append(problems, field+".model: missing")
			continue
		}
		inputs[i] = plugin.InferenceInput{Text: data, Model: *in.Model, Options: in.Options}
	}
	return inputs, problems
}

// jsonProblem says what is wrong with a JSON value, naming the field.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "value"
		}
		return fmt.Sprintf("%s has JSON type %s, want %s", f, te.Value, te.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte offset %d: %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return err.Error()
}
