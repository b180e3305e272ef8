package secrets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// AWS is a Store on AWS Secrets Manager.
type AWS struct {
	client *secretsmanager.Client
}

// AWSOptions adjust the SDK's standard configuration.
type AWSOptions struct {
	// Region overrides the SDK's region (AWS_REGION, AWS_DEFAULT_REGION or
	// the profile); one of them must give a region.
	Region string
	// MaxAttempts per call, first try included (default 5).
	MaxAttempts int
	// MaxBackoff caps the delay between attempts (default the SDK's, 20s).
	MaxBackoff time.Duration
	// Endpoint overrides the endpoint; normally left empty so that the
	// SDK's AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL apply.
	Endpoint string
}

// NewAWS loads the SDK's default configuration (environment, shared config
// and credentials files, the credential chain, service endpoint variables)
// and returns a store on it.
func NewAWS(ctx context.Context, opts AWSOptions) (*AWS, error) {
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	load := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				if opts.MaxBackoff > 0 {
					o.MaxBackoff = opts.MaxBackoff
				}
			})
		}),
	}
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.Endpoint != "" {
		load = append(load, config.WithBaseEndpoint(opts.Endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("secrets: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("secrets: no AWS region: set AWS_REGION (or pass a region)")
	}
	return NewAWSFromConfig(cfg), nil
}

// NewAWSFromConfig returns a store on an SDK configuration the caller built.
func NewAWSFromConfig(cfg aws.Config, optFns ...func(*secretsmanager.Options)) *AWS {
	return &AWS{client: secretsmanager.NewFromConfig(cfg, optFns...)}
}

// Describe implements Store.
func (a *AWS) Describe(ctx context.Context, name string) (*Metadata, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	out, err := a.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return nil, awsError(name, err)
	}
	if out.DeletedDate != nil {
		return nil, fmt.Errorf("secret %s (deleted %s): %w; restore it first", name, out.DeletedDate.UTC().Format(time.RFC3339), ErrDeleted)
	}
	current := currentVersion(out.VersionIdsToStages)
	if current == "" {
		return nil, fmt.Errorf("secret %s has no AWSCURRENT version", name)
	}
	return &Metadata{Name: name, ARN: aws.ToString(out.ARN), VersionID: current}, nil
}

func currentVersion(stages map[string][]string) string {
	ids := make([]string, 0, len(stages))
	for id := range stages {
		ids = append(ids, id)
	}
	sort.Strings(ids) // deterministic, though only one version holds AWSCURRENT
	for _, id := range ids {
		for _, s := range stages[id] {
			if s == "AWSCURRENT" {
				return id
			}
		}
	}
	return ""
}

// Get implements Store.
func (a *AWS) Get(ctx context.Context, name string) (*Secret, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	out, err := a.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return nil, awsError(name, err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("secret %s holds binary data; a JSON SecretString is expected", name)
	}
	return &Secret{Name: name, VersionID: aws.ToString(out.VersionId), Value: *out.SecretString}, nil
}

// Create implements Store. The SDK fills ClientRequestToken, so a retried
// create is idempotent.
func (a *AWS) Create(ctx context.Context, name, value string, opts CreateOptions) (*Metadata, error) {
	if err := checkValue(name, value); err != nil {
		return nil, err
	}
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	if opts.Description != "" {
		in.Description = aws.String(opts.Description)
	}
	keys := make([]string, 0, len(opts.Tags))
	for k := range opts.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(opts.Tags[k])})
	}
	out, err := a.client.CreateSecret(ctx, in)
	if err != nil {
		return nil, awsError(name, err)
	}
	return &Metadata{Name: name, ARN: aws.ToString(out.ARN), VersionID: aws.ToString(out.VersionId)}, nil
}

// Put implements Store.
func (a *AWS) Put(ctx context.Context, name, value string) (*Metadata, error) {
	if err := checkValue(name, value); err != nil {
		return nil, err
	}
	out, err := a.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		return nil, awsError(name, err)
	}
	return &Metadata{Name: name, ARN: aws.ToString(out.ARN), VersionID: aws.ToString(out.VersionId)}, nil
}

// awsError maps Secrets Manager's error codes onto this package's errors,
// keeping the SDK error wrapped.
func awsError(name string, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fmt.Errorf("secret %s: %w", name, err)
	}
	switch api.ErrorCode() {
	case "ResourceNotFoundException":
		return &NotFoundError{Name: name, cause: err}
	case "ResourceExistsException":
		return fmt.Errorf("%s: %w (%w)", name, ErrExists, err)
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException":
		return fmt.Errorf("secret %s: %w (%w)", name, ErrAccessDenied, err)
	case "InvalidRequestException":
		if strings.Contains(strings.ToLower(api.ErrorMessage()), "deletion") {
			return fmt.Errorf("secret %s: %w; restore it first (%w)", name, ErrDeleted, err)
		}
	}
	return fmt.Errorf("secret %s: %w", name, err)
}
