namespace Distributed.Grains.Abstractions;

/// <summary>A value of a backend that <see cref="BackendRules"/> checks; named as in configuration (<c>Backends:&lt;id&gt;:Weight</c>).</summary>
public enum BackendField
{
    /// <summary>The backend's id (in configuration, the name of its section).</summary>
    Id = 0,

    /// <summary>Its base address.</summary>
    Address = 1,

    /// <summary>Its weight.</summary>
    Weight = 2,

    /// <summary>Its cluster-wide limit of requests in flight.</summary>
    MaxInFlight = 3,

    /// <summary>How long a drain keeps its sessions.</summary>
    Timeout = 4,
}

/// <summary>One value of a backend that breaks a rule of <see cref="BackendRules"/>.</summary>
/// <param name="Field">The value at fault.</param>
/// <param name="Problem">What is wrong, as the rest of a sentence whose subject is the value ("must be ...").</param>
public readonly record struct RuleViolation(BackendField Field, string Problem)
{
    /// <summary>The value's name as the admin API's JSON spells it (<c>maxInFlight</c>).</summary>
    public string JsonName => Field switch
    {
        BackendField.Id => "id",
        BackendField.Address => "address",
        BackendField.Weight => "weight",
        BackendField.MaxInFlight => "maxInFlight",
        _ => "timeout",
    };

    /// <summary>The violation as an admin API caller reads it: <c>'weight' must be between 1 and 1000 (was 0).</c></summary>
    public override string ToString() => $"'{JsonName}' {Problem}.";
}

/// <summary>
/// What makes a backend valid: the one set of rules behind the gateway's configuration check (which names the
/// configuration key at fault) and the pool grain's check of every admin change (whose words the admin API returns).
/// </summary>
public static class BackendRules
{
    /// <summary>Smallest weight.</summary>
    public const int MinWeight = 1;

    /// <summary>Largest weight.</summary>
    public const int MaxWeight = 1000;

    /// <summary>Longest pool or backend id.</summary>
    public const int MaxIdLength = 64;

    /// <summary>Longest drain.</summary>
    public static readonly TimeSpan MaxDrainTimeout = TimeSpan.FromDays(7);

    /// <summary>The rule for pool and backend ids, as the rest of a sentence whose subject is the id.</summary>
    public static string IdRule { get; } = $"must be 1–{MaxIdLength} letters, digits, '.', '_' or '-'";

    /// <summary>
    /// Ids of pools and backends become grain keys, YARP ids and metric tags: letters, digits, '.', '_' and '-', 1–64
    /// characters.
    /// </summary>
    public static bool IsValidId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An absolute http or https URL.</summary>
    public static bool IsValidAddress(string? address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>Every rule a backend's values break; empty when they are valid.</summary>
    public static List<RuleViolation> Check(string? id, string? address, int weight, int maxInFlight)
    {
        var violations = new List<RuleViolation>();
        if (!IsValidId(id))
        {
            violations.Add(new(BackendField.Id, $"{IdRule} (was '{id}')"));
        }

        if (!IsValidAddress(address))
        {
            violations.Add(new(BackendField.Address, $"must be an absolute http or https URL (was '{address}')"));
        }

        if (weight is < MinWeight or > MaxWeight)
        {
            violations.Add(new(BackendField.Weight, $"must be between {MinWeight} and {MaxWeight} (was {weight})"));
        }

        if (maxInFlight < 0)
        {
            violations.Add(new(BackendField.MaxInFlight, $"must be 0 (no limit) or more (was {maxInFlight})"));
        }

        return violations;
    }

    /// <summary>The rule a drain timeout breaks, or <c>null</c>: 0 to <see cref="MaxDrainTimeout"/>.</summary>
    public static RuleViolation? CheckDrainTimeout(TimeSpan timeout) =>
        timeout < TimeSpan.Zero || timeout > MaxDrainTimeout
            ? new RuleViolation(BackendField.Timeout, $"must be between 00:00:00 and {MaxDrainTimeout:c} (was {timeout:c})")
            : null;
}
