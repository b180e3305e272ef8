package jobs

import (
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Job kinds, as stored in river_job.kind and reported to an Observer.
const (
	KindDelivery  = "rdsbot_delivery"
	KindRequest   = "rdsbot_request"
	KindReconcile = "rdsbot_reconcile"
	KindPrune     = "rdsbot_prune"
)

// Queue names. Deliveries have a queue of their own so that slow request work
// never delays the processing of new deliveries.
const (
	QueueIntake = "rdsbot_intake"
	QueueWork   = "rdsbot_work"
)

// activeStates are the states in which a unique job blocks another one with the
// same key: everything except the finalized states. River requires available,
// pending, running and scheduled; retryable is included so that a failing
// request is retried rather than duplicated.
var activeStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRunning,
	rivertype.JobStateRetryable,
	rivertype.JobStateScheduled,
}

// DeliveryArgs are the arguments of a job that processes one webhook delivery:
// its identity and routing fields. The payload stays in the delivery log
// (rdsbot_delivery.payload), written once as bytes in the same transaction;
// carrying it in the job would put it through River's JSON encoding and the
// database's JSON parser several times on the intake path.
type DeliveryArgs struct {
	ID             string    `json:"id"`
	Event          string    `json:"event"`
	Action         string    `json:"action,omitempty"`
	InstallationID int64     `json:"installation_id,omitempty"`
	Repository     string    `json:"repository,omitempty"`
	ReceivedAt     time.Time `json:"received_at"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return KindDelivery }

// InsertOpts implements river.JobArgsWithInsertOpts. Deliveries are not River
// unique jobs: the delivery log, written in the same transaction, is what
// deduplicates them.
func (DeliveryArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueIntake} }

func deliveryArgs(d webhook.Delivery) DeliveryArgs {
	return DeliveryArgs{
		ID:             d.ID,
		Event:          d.Event,
		Action:         d.Action,
		InstallationID: d.InstallationID,
		Repository:     d.Repository,
		ReceivedAt:     d.ReceivedAt.UTC(),
	}
}

// Delivery turns the arguments back into the delivery they came from, less
// its payload.
func (a DeliveryArgs) Delivery() webhook.Delivery {
	return webhook.Delivery{
		ID:             a.ID,
		Event:          a.Event,
		Action:         a.Action,
		InstallationID: a.InstallationID,
		Repository:     a.Repository,
		ReceivedAt:     a.ReceivedAt,
	}
}

// RequestArgs are the arguments of a job that works on one request. At most
// one such job per Repo and Key is waiting or running at any time (a River
// unique job over activeStates); the Reason of later enqueues is kept in the
// request table and given to the follow-up job.
type RequestArgs struct {
	Repo   string `json:"repo" river:"unique"`
	Key    string `json:"key" river:"unique"`
	Reason string `json:"reason,omitempty"`
}

// Kind implements river.JobArgs.
func (RequestArgs) Kind() string { return KindRequest }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (RequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:      QueueWork,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates},
	}
}

func (a RequestArgs) request() Request { return Request(a) }

// ReconcileArgs are the arguments of the periodic reconcile job. One runs at a
// time; a period that comes while one is still waiting or running is skipped.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return KindReconcile }

// InsertOpts implements river.JobArgsWithInsertOpts. The next period retries
// anyway, so a failing reconcile is tried only a few times.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueWork,
		MaxAttempts: 3,
		UniqueOpts:  river.UniqueOpts{ByState: activeStates},
	}
}

// pruneArgs are the arguments of the hourly job that forgets delivery ids
// older than Config.DeliveryRetention.
type pruneArgs struct{}

func (pruneArgs) Kind() string { return KindPrune }

func (pruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueWork,
		MaxAttempts: 3,
		UniqueOpts:  river.UniqueOpts{ByState: activeStates},
	}
}
