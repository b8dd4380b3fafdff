package hfgraph

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// SafetensorsFile and SafetensorsIndex are the checkpoint files looked for
// in a model directory: one file, or the index of a sharded checkpoint.
const (
	SafetensorsFile  = "model.safetensors"
	SafetensorsIndex = "model.safetensors.index.json"
	// Int8File is a model directory's int8 graph, beside its model.onnx:
	// what `spladeq model convert --quantize int8` and `make models` write,
	// and what an encoder asked for Int8 runs when it is there.
	Int8File = "model.int8.onnx"
)

// maxHeader bounds the JSON header of a safetensors file (the format's own
// reference reader refuses more than 100 MB).
const maxHeader = 100 << 20

// Checkpoint is the tensors of a safetensors checkpoint, one file or the
// shards an index names, read into memory.
type Checkpoint struct {
	// Path is the file or the index the checkpoint was opened from.
	Path    string
	tensors map[string]stTensor
}

// stTensor is one tensor of a safetensors file.
type stTensor struct {
	file  string
	dtype string
	shape []int
	data  []byte
}

// FindCheckpoint returns the checkpoint file of a model directory (the
// index of a sharded one first), or "" when it has none.
func FindCheckpoint(dir string) string {
	for _, name := range []string{SafetensorsIndex, SafetensorsFile} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// OpenCheckpoint reads a safetensors file, or every shard a
// model.safetensors.index.json names.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	c := &Checkpoint{Path: path, tensors: map[string]stTensor{}}
	if filepath.Base(path) != SafetensorsIndex {
		return c, c.read(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("%s does not parse: %v", path, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: weight_map is empty", path)
	}
	shards := map[string]bool{}
	for name, shard := range index.WeightMap {
		if shard == "" || filepath.Base(shard) != shard {
			return nil, fmt.Errorf("%s: weight_map[%q] = %q is not a file in the directory", path, name, shard)
		}
		shards[shard] = true
	}
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		if err := c.read(filepath.Join(filepath.Dir(path), s)); err != nil {
			return nil, fmt.Errorf("%s: shard %w", path, err)
		}
	}
	for name, shard := range index.WeightMap {
		if t, ok := c.tensors[name]; !ok || filepath.Base(t.file) != shard {
			return nil, fmt.Errorf("%s: tensor %q is not in %s, where weight_map puts it", path, name, shard)
		}
	}
	return c, nil
}

// dtypeSize is the element size of the dtypes a header may name.
var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// read adds the tensors of one safetensors file: an 8-byte little-endian
// header length, a JSON header of name → {dtype, shape, data_offsets},
// then the data, offsets counted from the end of the header.
func (c *Checkpoint) read(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) < 8 {
		return fmt.Errorf("%s: %d bytes, too short for a safetensors file", path, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeader || n > uint64(len(data)-8) {
		return fmt.Errorf("%s: header length %d does not fit the file (%d bytes); is it a safetensors file?", path, n, len(data))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		return fmt.Errorf("%s: header does not parse: %v", path, err)
	}
	body := data[8+n:]
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var info struct {
			Dtype   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			return fmt.Errorf("%s: tensor %q: header entry does not parse: %v", path, name, err)
		}
		size, ok := dtypeSize[info.Dtype]
		if !ok {
			return fmt.Errorf("%s: tensor %q: unknown dtype %q", path, name, info.Dtype)
		}
		if len(info.Offsets) != 2 || info.Offsets[0] > info.Offsets[1] || info.Offsets[1] > uint64(len(body)) {
			return fmt.Errorf("%s: tensor %q: data_offsets %v outside the %d bytes of data", path, name, info.Offsets, len(body))
		}
		elems := 1
		for _, d := range info.Shape {
			if d < 0 {
				return fmt.Errorf("%s: tensor %q: negative dimension in shape %v", path, name, info.Shape)
			}
			if d > 0 && elems > len(body)/d {
				return fmt.Errorf("%s: tensor %q: shape %v holds more elements than the file has bytes", path, name, info.Shape)
			}
			elems *= d
		}
		if got := info.Offsets[1] - info.Offsets[0]; got != uint64(elems*size) {
			return fmt.Errorf("%s: tensor %q: %d bytes for shape %v of %s, want %d", path, name, got, info.Shape, info.Dtype, elems*size)
		}
		if _, dup := c.tensors[name]; dup {
			return fmt.Errorf("%s: tensor %q is also in %s", path, name, c.tensors[name].file)
		}
		c.tensors[name] = stTensor{file: path, dtype: info.Dtype, shape: info.Shape, data: body[info.Offsets[0]:info.Offsets[1]]}
	}
	return nil
}

// Has reports whether the checkpoint holds a tensor.
func (c *Checkpoint) Has(name string) bool {
	_, ok := c.tensors[name]
	return ok
}

// Shape returns a tensor's shape, or nil when there is no such tensor.
func (c *Checkpoint) Shape(name string) []int { return c.tensors[name].shape }

// errMissing is wrapped by the error for a tensor the checkpoint lacks.
var errMissing = errors.New("no such tensor")

// floatTensor returns a float tensor of the given shape as a float32
// initializer source: fill writes it (converted from F16 or BF16 when
// stored so) into a buffer of 4 × elements bytes, transposed when
// transpose is set (a 2-D [out, in] Linear weight becomes [in, out]).
func (c *Checkpoint) floatTensor(name string, shape []int, transpose bool) (raw []byte, fill func([]byte), err error) {
	t, ok := c.tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("%s: tensor %q: %w", c.Path, name, errMissing)
	}
	if !sameShape(t.shape, shape) {
		return nil, nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", t.file, name, t.shape, shape)
	}
	if t.dtype == "F32" && !transpose {
		return t.data, nil, nil // same little-endian layout as ONNX raw_data
	}
	at, err := t.bits(name)
	if err != nil {
		return nil, nil, err
	}
	elems := 1
	for _, d := range shape {
		elems *= d
	}
	fill = func(dst []byte) {
		if !transpose {
			for i := 0; i < elems; i++ {
				binary.LittleEndian.PutUint32(dst[4*i:], at(i))
			}
			return
		}
		rows, cols := shape[0], shape[1]
		for r := 0; r < rows; r++ {
			for k := 0; k < cols; k++ {
				binary.LittleEndian.PutUint32(dst[4*(k*rows+r):], at(r*cols+k))
			}
		}
	}
	return nil, fill, nil
}

// bits returns a reader of element i as float32 bits, widened from F16 or
// BF16 when stored so.
func (t stTensor) bits(name string) (func(i int) uint32, error) {
	switch t.dtype {
	case "F32":
		return func(i int) uint32 { return binary.LittleEndian.Uint32(t.data[4*i:]) }, nil
	case "F16":
		return func(i int) uint32 { return math.Float32bits(halfToFloat(binary.LittleEndian.Uint16(t.data[2*i:]))) }, nil
	case "BF16":
		return func(i int) uint32 { return uint32(binary.LittleEndian.Uint16(t.data[2*i:])) << 16 }, nil
	}
	return nil, fmt.Errorf("%s: tensor %q has dtype %s; supported: F32, F16, BF16", t.file, name, t.dtype)
}

// floats returns a float tensor of the given shape as float32 values
// (row-major, as stored), for the quantizer, which needs each row's range
// before it can write a value.
func (c *Checkpoint) floats(name string, shape []int) ([]float32, error) {
	t, ok := c.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q: %w", c.Path, name, errMissing)
	}
	if !sameShape(t.shape, shape) {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", t.file, name, t.shape, shape)
	}
	at, err := t.bits(name)
	if err != nil {
		return nil, err
	}
	elems := 1
	for _, d := range shape {
		elems *= d
	}
	out := make([]float32, elems)
	for i := range out {
		out[i] = math.Float32frombits(at(i))
	}
	return out, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// halfToFloat converts IEEE 754 binary16 bits to float32, subnormals,
// infinities and NaN included.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
