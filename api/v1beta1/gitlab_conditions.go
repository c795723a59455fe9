package v1beta1

// GitLab condition reasons beyond the shared ones in conditions.go. Each
// names one cause, so a reason alone tells what is going on.
const (
	// ReasonUpgrading (Progressing): a new GitLab version is rolling out;
	// the pod runs reconfigure and the database migrations.
	ReasonUpgrading = "Upgrading"
	// ReasonAdminTokenRejected (AdminTokenReady): GitLab answers but
	// refuses the operator's admin token: the seed script has not run yet,
	// failed, or the token was revoked.
	ReasonAdminTokenRejected = "AdminTokenRejected"
	// ReasonAsExpected (Degraded=False): nothing needs attention.
	ReasonAsExpected = "AsExpected"
	// ReasonAdminTokenRotated is the event reason when the operator replaced
	// the admin token before its expiry.
	ReasonAdminTokenRotated = "AdminTokenRotated"
)
