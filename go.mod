module github.com/spladeq/spladeq

go 1.26

require (
	github.com/daulet/tokenizers v1.22.1 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	github.com/yalue/onnxruntime_go v1.27.0 // indirect
)
