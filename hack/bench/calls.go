package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// callStats are the GitLab calls of the converge phase, attributed to
// Runners.
type callStats struct {
	total int
	// max is the most calls any one Runner caused.
	max int
	// perKindMax is the same per credential kind.
	perKindMax map[string]int
	// byRoute counts calls per route.
	byRoute map[string]int
	// histogram maps calls-per-Runner to the number of Runners.
	histogram map[int]int
	// unattributed calls could not be mapped to a Runner.
	unattributed int
}

// attributeCalls maps every GitLab call since the converge phase began to
// the Runner that caused it:
//   - POST /runners (registration token) and POST /user/runners (access
//     token) carry the description the operator gives the runner,
//     "<namespace>/<name>";
//   - calls authenticated by a runner token (verify, reset, delete by
//     token, delete manager) carry the token, which is either the
//     pre-created glrt- token the bench put in the Runner's Secret or one
//     the fake issued, whose runner has the operator's description;
//   - calls on /runners/:id resolve the id through the fake's state;
//   - list calls carry the description as a filter.
func attributeCalls(fake *gitlabtest.Server, conv *convergeResult) callStats {
	st := callStats{perKindMax: map[string]int{}, byRoute: map[string]int{}, histogram: map[int]int{}}
	byName := map[string]benchRunner{}
	byToken := map[string]string{}
	for _, r := range conv.runners {
		byName[r.name] = r
		if r.token != "" {
			byToken[r.token] = r.name
		}
	}
	fromDescription := func(d string) string {
		i := strings.LastIndex(d, conv.ns+"/")
		if i < 0 {
			return ""
		}
		name := d[i+len(conv.ns)+1:]
		if _, ok := byName[name]; ok {
			return name
		}
		return ""
	}
	fromToken := func(tok string) string {
		if tok == "" {
			return ""
		}
		if n, ok := byToken[tok]; ok {
			return n
		}
		if rs, ok := fake.RunnerByToken(tok); ok {
			return fromDescription(rs.Description)
		}
		return ""
	}
	fromID := func(path string) string {
		i := strings.Index(path, "/api/v4/runners/")
		if i < 0 {
			return ""
		}
		rest := path[i+len("/api/v4/runners/"):]
		if rest == "" {
			return ""
		}
		idStr, _, _ := strings.Cut(rest, "/")
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			return ""
		}
		if rs, ok := fake.Runner(id); ok {
			return fromDescription(rs.Description)
		}
		return ""
	}

	per := map[string]int{}
	for _, c := range fake.Calls() {
		st.total++
		st.byRoute[c.Route]++
		p := callParams(c)
		name := ""
		switch c.Route {
		case gitlabtest.RouteRegister, gitlabtest.RouteCreateUserRunner:
			name = fromDescription(p.Get("description"))
		case gitlabtest.RouteVerify, gitlabtest.RouteResetToken, gitlabtest.RouteDeleteByToken, gitlabtest.RouteDeleteManager, gitlabtest.RouteJobsRequest:
			name = fromToken(p.Get("token"))
		case gitlabtest.RouteListAll, gitlabtest.RouteListOwned:
			name = fromDescription(p.Get("description"))
		case gitlabtest.RouteGetRunner, gitlabtest.RouteUpdateRunner, gitlabtest.RouteDeleteRunner,
			gitlabtest.RouteListManagers, gitlabtest.RouteResetTokenByID:
			name = fromID(c.Path)
		}
		if name == "" {
			st.unattributed++
			continue
		}
		per[name]++
	}
	for _, r := range conv.runners {
		n := per[r.name]
		st.histogram[n]++
		st.max = max(st.max, n)
		st.perKindMax[r.kind] = max(st.perKindMax[r.kind], n)
	}
	return st
}

// callParams merges a call's query, form and JSON body parameters (body
// wins, as in GitLab).
func callParams(c gitlabtest.Call) url.Values {
	out := url.Values{}
	for k, v := range c.Query {
		out[k] = append([]string(nil), v...)
	}
	if len(c.Body) == 0 {
		return out
	}
	var m map[string]any
	if json.Unmarshal(c.Body, &m) == nil {
		for k, v := range m {
			switch x := v.(type) {
			case string:
				out.Set(k, x)
			case float64, bool:
				out.Set(k, fmt.Sprint(x))
			}
		}
		return out
	}
	if form, err := url.ParseQuery(string(c.Body)); err == nil {
		for k, v := range form {
			out[k] = v
		}
	}
	return out
}

func (s callStats) histogramLine() string {
	keys := make([]int, 0, len(s.histogram))
	for k := range s.histogram {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d call(s): %d Runners", k, s.histogram[k]))
	}
	return strings.Join(parts, ", ")
}
