using Distributed.Grains.Abstractions;
using Distributed.Gateway.SessionKeys;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Configuration;

/// <summary>
/// Checks <see cref="BalancerOptions"/> at start-up; every message names the offending key. A pool keyed by a claim also
/// needs <paramref name="authentication"/> configured.
/// </summary>
internal sealed class BalancerOptionsValidator(IOptions<ClaimAuthenticationOptions> authentication) : IValidateOptions<BalancerOptions>
{
    private const string Section = BalancerOptions.SectionName;

    // The silos' session store keeps a record at most this long after its last write (ExpiringRedisGrainStorage).
    private static readonly TimeSpan MaxSessionTtl = TimeSpan.FromDays(7);

    public ValidateOptionsResult Validate(string? name, BalancerOptions options)
    {
        var errors = new List<string>();
        if (options.ReportInterval < TimeSpan.FromMilliseconds(10) || options.ReportInterval > TimeSpan.FromSeconds(10))
        {
            errors.Add($"{Section}:ReportInterval must be between 00:00:00.010 and 00:00:10 (was {options.ReportInterval}).");
        }

        if (options.EffectiveReportLease <= options.ReportInterval)
        {
            errors.Add($"{Section}:ReportLease must be longer than {Section}:ReportInterval (was {options.EffectiveReportLease}).");
        }

        if (options.ClusterCallTimeout < TimeSpan.FromMilliseconds(50) || options.ClusterCallTimeout > TimeSpan.FromSeconds(30))
        {
            errors.Add($"{Section}:ClusterCallTimeout must be between 00:00:00.050 and 00:00:30 (was {options.ClusterCallTimeout}).");
        }

        if (options.ClusterWaitBudget < TimeSpan.Zero || options.ClusterWaitBudget > options.ClusterCallTimeout)
        {
            errors.Add($"{Section}:ClusterWaitBudget must be between 0 and {Section}:ClusterCallTimeout ({options.ClusterCallTimeout}) (was {options.ClusterWaitBudget}).");
        }

        if (options.MaxSessionKeyLength is < 1 or > 1024)
        {
            errors.Add($"{Section}:MaxSessionKeyLength must be between 1 and 1024 (was {options.MaxSessionKeyLength}).");
        }

        if (options.Cookies.SigningKey is { } key && SecretStrength.IsPlaceholder(key))
        {
            errors.Add($"{Section}:Cookies:SigningKey is the placeholder value from the deployment manifests; generate one with openssl rand -base64 32.");
        }
        else if (options.Cookies.SigningKey is { } signingKey && !SigningKeys.TryDecode(signingKey, out _))
        {
            errors.Add($"{Section}:Cookies:SigningKey must be base64 of at least 32 bytes.");
        }

        for (var i = 0; i < options.Cookies.PreviousSigningKeys.Count; i++)
        {
            if (!SigningKeys.TryDecode(options.Cookies.PreviousSigningKeys[i], out _))
            {
                errors.Add($"{Section}:Cookies:PreviousSigningKeys:{i} must be base64 of at least 32 bytes.");
            }
        }

        if (options.Cookies.PreviousSigningKeys.Count > 0 && string.IsNullOrWhiteSpace(options.Cookies.SigningKey))
        {
            errors.Add($"{Section}:Cookies:PreviousSigningKeys needs {Section}:Cookies:SigningKey, the key that replaced them.");
        }

        if (options.NewSessions.PerClientPerSecond is < 0 or > 1_000_000 or double.NaN || options.NewSessions.PerClientBurst < 1)
        {
            errors.Add($"{Section}:NewSessions: PerClientPerSecond must be 0 (no budget) to 1000000 and PerClientBurst at least 1 (were {options.NewSessions.PerClientPerSecond} and {options.NewSessions.PerClientBurst}).");
        }

        if (options.PinCache.MaxEntries < 1)
        {
            errors.Add($"{Section}:PinCache:MaxEntries must be at least 1 (was {options.PinCache.MaxEntries}).");
        }

        if (options.PinCache.ConfirmInterval <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:PinCache:ConfirmInterval must be positive (was {options.PinCache.ConfirmInterval}).");
        }
        else if (options.PinCache.MaxEntries >= 1 && options.PinCache.MaxConfirmationsPerSecond != 0
            && options.PinCache.MaxConfirmationsPerSecond < options.PinCache.ConfirmationsNeeded(options.Pools.Count))
        {
            errors.Add($"{Section}:PinCache:MaxConfirmationsPerSecond ({options.PinCache.MaxConfirmationsPerSecond}) is below the {options.PinCache.ConfirmationsNeeded(options.Pools.Count)} a second that "
                + $"{Math.Max(1, options.Pools.Count)} pool cache(s) of {options.PinCache.MaxEntries} pins need at a {options.PinCache.ConfirmInterval} interval, so sessions in use could lapse; "
                + "raise it, lower MaxEntries, lengthen ConfirmInterval, or set 0 for the default (twice the need).");
        }

        if (options.History.Retention < TimeSpan.FromMinutes(1) || options.History.Retention > TimeSpan.FromHours(1))
        {
            errors.Add($"{Section}:History:Retention must be between 00:01:00 and 01:00:00 (was {options.History.Retention}).");
        }

        if (options.History.SessionsInterval < TimeSpan.FromSeconds(1) || options.History.SessionsInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{Section}:History:SessionsInterval must be between 00:00:01 and 00:01:00 (was {options.History.SessionsInterval}).");
        }

        if (options.Pools.Count == 0)
        {
            errors.Add($"{Section}:Pools must define at least one pool, e.g. {Section}:Pools:web:Backends:b1:Address=http://127.0.0.1:5001.");
        }

        foreach (var (poolName, pool) in options.Pools)
        {
            ValidatePool(poolName, pool, options, errors);
        }

        foreach (var (routeName, route) in options.Routes)
        {
            if (!options.Pools.ContainsKey(route.Pool))
            {
                errors.Add($"{Section}:Routes:{routeName}:Pool names an unknown pool '{route.Pool}'.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private void ValidatePool(string poolName, PoolOptions pool, BalancerOptions options, List<string> errors)
    {
        var prefix = $"{Section}:Pools:{poolName}";
        if (!BackendRules.IsValidId(poolName))
        {
            errors.Add($"{prefix}: the pool name {BackendRules.IdRule}.");
        }

        if (!SessionKeySourceFactory.TryParse(pool.SessionKey, out var spec, out var specError))
        {
            errors.Add($"{prefix}:SessionKey {specError}");
        }
        else if (spec.Kind == SessionKeyKind.Claim && !authentication.Value.IsConfigured)
        {
            errors.Add($"{prefix}:SessionKey uses Claim:<type>, which needs authenticated users: configure JWT bearer under {ClaimAuthenticationOptions.SectionName} (Authority or SigningKey, and Audience). Without it every request of the pool would be keyless.");
        }

        if (pool.SessionTtl <= TimeSpan.Zero || pool.SessionTtl > MaxSessionTtl)
        {
            errors.Add($"{prefix}:SessionTtl must be positive and at most 7 days, how long the session store keeps any record (was {pool.SessionTtl}).");
        }
        else if (pool.SessionKey is { Length: > 0 } && options.PinCache.ConfirmInterval >= pool.SessionTtl)
        {
            errors.Add($"{Section}:PinCache:ConfirmInterval ({options.PinCache.ConfirmInterval}) must be shorter than {prefix}:SessionTtl ({pool.SessionTtl}).");
        }

        if (pool.BalanceFactor != 0 && pool.BalanceFactor is < 1 or > 100 or double.NaN)
        {
            errors.Add($"{prefix}:BalanceFactor must be 0 (ignore load) or between 1 and 100 (was {pool.BalanceFactor}).");
        }

        if (!Enum.IsDefined(pool.Policy))
        {
            errors.Add($"{prefix}:Policy must be LeastLoaded, RoundRobin, WeightedRoundRobin, Random, Hash or FirstAvailable (was {pool.Policy}).");
        }
        else if (pool.Policy == BalancingPolicyKind.Hash)
        {
            if (!HashKeySpec.TryParse(pool.HashKey, out _, out var hashError))
            {
                errors.Add($"{prefix}:HashKey {hashError}");
            }
        }
        else if (!string.IsNullOrWhiteSpace(pool.HashKey))
        {
            errors.Add($"{prefix}:HashKey is only used with Policy Hash (Policy is {pool.Policy}); remove it or set Policy to Hash.");
        }

        if (!Enum.IsDefined(pool.BackendProtocol))
        {
            errors.Add($"{prefix}:BackendProtocol must be Auto, Http1 or Http2 (was {pool.BackendProtocol}).");
        }

        if (!pool.BackendTls.TryLoad(out _, out var tlsError))
        {
            errors.Add($"{prefix}:BackendTls:CaCertificatePath {tlsError}");
        }

        if (pool.Retry.On is < RetryOn.None or > (RetryOn.Unreachable | RetryOn.Timeout))
        {
            errors.Add($"{prefix}:Retry:On must be Unreachable, Timeout, both (comma-separated) or None (was {pool.Retry.On}).");
        }

        foreach (var method in pool.Retry.Methods ?? [])
        {
            if (string.IsNullOrWhiteSpace(method) || !method.All(c => char.IsAsciiLetterUpper(c) || c == '-'))
            {
                errors.Add($"{prefix}:Retry:Methods lists '{method}'; HTTP methods are written in capitals, e.g. GET.");
            }
        }

        var health = pool.HealthCheck;
        if (health.Enabled)
        {
            if (!health.Path.StartsWith('/'))
            {
                errors.Add($"{prefix}:HealthCheck:Path must start with '/' (was '{health.Path}').");
            }

            if (health.Interval < TimeSpan.FromMilliseconds(100) || health.Timeout <= TimeSpan.Zero || health.Timeout > health.Interval)
            {
                errors.Add($"{prefix}:HealthCheck: Interval must be at least 100 ms and Timeout positive and no longer than Interval (were {health.Interval} and {health.Timeout}).");
            }

            if (health.Rise < 1 || health.Fall < 1)
            {
                errors.Add($"{prefix}:HealthCheck: Rise and Fall must be at least 1 (were {health.Rise} and {health.Fall}).");
            }
        }

        var passive = pool.PassiveHealth;
        if (passive.ConsecutiveFailures < 0 || passive.FailureRate is < 0 or > 1 || passive.MinimumRequests < 1 || passive.MaxEjectedPercent is < 0 or > 100)
        {
            errors.Add($"{prefix}:PassiveHealth: ConsecutiveFailures ≥ 0, FailureRate 0–1, MinimumRequests ≥ 1 and MaxEjectedPercent 0–100 are required.");
        }

        if (passive.Window <= TimeSpan.Zero || passive.EjectionTime <= TimeSpan.Zero || passive.MaxEjectionTime < passive.EjectionTime)
        {
            errors.Add($"{prefix}:PassiveHealth: Window and EjectionTime must be positive and MaxEjectionTime at least EjectionTime.");
        }

        if (pool.SlowStart < TimeSpan.Zero || pool.DrainTimeout < TimeSpan.Zero)
        {
            errors.Add($"{prefix}: SlowStart and DrainTimeout must not be negative.");
        }

        if (pool.PanicThreshold is < 0 or > 100)
        {
            errors.Add($"{prefix}:PanicThreshold must be between 0 (no panic) and 100 percent (was {pool.PanicThreshold}).");
        }

        if (pool.Backends.Count == 0)
        {
            errors.Add($"{prefix}:Backends must list at least one backend ({prefix}:Backends:<id>:Address).");
        }

        // The pool grain checks every admin change by the same rules; here each one names its configuration key.
        foreach (var (id, backend) in pool.Backends)
        {
            foreach (var violation in BackendRules.Check(id, backend.Address, backend.Weight, backend.MaxInFlight))
            {
                errors.Add(violation.Field == BackendField.Id
                    ? $"{prefix}:Backends:{id}: the backend id {BackendRules.IdRule}."
                    : $"{prefix}:Backends:{id}:{violation.Field} {violation.Problem}.");
            }
        }
    }
}
