package gitlabbuild

import (
	"fmt"
	"regexp"
	"strconv"
)

// Version is a GitLab version, major.minor.patch.
type Version struct {
	Major, Minor, Patch int
}

// String renders major.minor.patch.
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// MinorString renders major.minor, how upgrade stops are named.
func (v Version) MinorString() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare returns -1, 0 or 1.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		switch {
		case d < 0:
			return -1
		case d > 0:
			return 1
		}
	}
	return 0
}

// versionPattern accepts what spec.version, image tags and GitLab's
// /api/v4/version use: 18.6.1, v18.6.1, 18.6.1-ee, 18.6.1-ce.0.
var versionPattern = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$`)

// ParseVersion parses a GitLab version string.
func ParseVersion(s string) (Version, error) {
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a GitLab version (major.minor.patch)", s)
	}
	var v Version
	var err error
	if v.Major, err = strconv.Atoi(m[1]); err != nil {
		return Version{}, fmt.Errorf("%q: %w", s, err)
	}
	if v.Minor, err = strconv.Atoi(m[2]); err != nil {
		return Version{}, fmt.Errorf("%q: %w", s, err)
	}
	if v.Patch, err = strconv.Atoi(m[3]); err != nil {
		return Version{}, fmt.Errorf("%q: %w", s, err)
	}
	return v, nil
}

// NormalizeVersion returns major.minor.patch of s, or s unchanged when it
// does not parse (GitLab reports "18.6.1-ee" on EE).
func NormalizeVersion(s string) string {
	v, err := ParseVersion(s)
	if err != nil {
		return s
	}
	return v.String()
}

// explicitStops are GitLab's required upgrade stops up to 17.x, from
// GitLab's "Plan your upgrade path" documentation. Conditional stops
// (16.0, 16.1 and 16.2, for instances with particular data) are left out;
// 17.1 is kept although conditional, because skipping it is what breaks
// an instance with a large CI history.
var explicitStops = []Version{
	{14, 0, 0}, {14, 3, 0}, {14, 9, 0}, {14, 10, 0},
	{15, 0, 0}, {15, 1, 0}, {15, 4, 0}, {15, 11, 0},
	{16, 3, 0}, {16, 7, 0}, {16, 11, 0},
	{17, 1, 0}, {17, 3, 0}, {17, 5, 0}, {17, 8, 0}, {17, 11, 0},
}

// scheduledStopMinors are where stops fall from GitLab 18 on: GitLab
// schedules them at x.2, x.5, x.8 and x.11 (since 17.5).
var scheduledStopMinors = []int{2, 5, 8, 11}

// RequiredStops returns the required upgrade stops (major.minor, patch 0)
// strictly after from's minor and strictly before to's minor.
func RequiredStops(from, to Version) []Version {
	var out []Version
	between := func(s Version) bool {
		return (Version{from.Major, from.Minor, 0}).Compare(s) < 0 && s.Compare(Version{to.Major, to.Minor, 0}) < 0
	}
	for _, s := range explicitStops {
		if between(s) {
			out = append(out, s)
		}
	}
	for major := max(18, from.Major); major <= to.Major; major++ {
		for _, minor := range scheduledStopMinors {
			if s := (Version{major, minor, 0}); between(s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// UpgradeErrorKind says why a version change is refused.
type UpgradeErrorKind int

const (
	// UpgradeDowngrade: the target is older than the running version.
	UpgradeDowngrade UpgradeErrorKind = iota + 1
	// UpgradeSkipsStop: the change jumps over a required upgrade stop.
	UpgradeSkipsStop
	// UpgradeInvalidVersion: a version does not parse.
	UpgradeInvalidVersion
)

// UpgradeError is a refused version change. Its message names the fix.
type UpgradeError struct {
	Kind     UpgradeErrorKind
	From, To string
	// Stop is the first required stop skipped (major.minor), for
	// UpgradeSkipsStop.
	Stop string
	msg  string
}

func (e *UpgradeError) Error() string { return e.msg }

// CheckUpgrade decides whether GitLab may go from version from (what runs
// now; empty for a new instance) to version to. Downgrades are refused:
// migrations of the newer version have already changed the database. A
// change that skips a required upgrade stop is refused naming the first
// stop, because GitLab's batched background migrations of that stop must
// finish before later versions start.
func CheckUpgrade(from, to string) error {
	if from == "" {
		return nil
	}
	f, err := ParseVersion(from)
	if err != nil {
		return &UpgradeError{Kind: UpgradeInvalidVersion, From: from, To: to, msg: "running version: " + err.Error()}
	}
	t, err := ParseVersion(to)
	if err != nil {
		return &UpgradeError{Kind: UpgradeInvalidVersion, From: from, To: to, msg: "target version: " + err.Error()}
	}
	switch c := t.Compare(f); {
	case c == 0:
		return nil
	case c < 0:
		return &UpgradeError{Kind: UpgradeDowngrade, From: f.String(), To: t.String(), msg: fmt.Sprintf(
			"GitLab runs %s and cannot be downgraded to %s (its database was migrated for %s): set spec.version back to %s or later",
			f, t, f, f)}
	}
	if stops := RequiredStops(f, t); len(stops) > 0 {
		s := stops[0].MinorString()
		return &UpgradeError{Kind: UpgradeSkipsStop, From: f.String(), To: t.String(), Stop: s, msg: fmt.Sprintf(
			"upgrading GitLab from %s to %s skips the required upgrade stop %s: set spec.version to the latest %s.x patch release first, wait until the GitLab is Ready again, then continue",
			f, t, s, s)}
	}
	return nil
}
