package httpapi

// Patterns lists the routes the handler serves as "METHOD /path"
// patterns (wildcards as {name}), for checking that a deployment's probes
// and Qdrant's inference.address name real routes.
func Patterns() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.pattern
	}
	return out
}
