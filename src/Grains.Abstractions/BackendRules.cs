namespace Distributed.Grains.Abstractions;

/// <summary>What makes a backend valid, shared by the gateways' checks and the pool grain's.</summary>
public static class BackendRules
{
    /// <summary>Smallest weight.</summary>
    public const int MinWeight = 1;

    /// <summary>Largest weight.</summary>
    public const int MaxWeight = 1000;

    /// <summary>Longest drain.</summary>
    public static readonly TimeSpan MaxDrainTimeout = TimeSpan.FromDays(7);

    /// <summary>
    /// Ids of pools and backends become grain keys, YARP ids and metric tags: letters, digits, '.', '_' and '-', 1–64
    /// characters.
    /// </summary>
    public static bool IsValidId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 64)
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

    /// <summary>What is wrong with a backend's values, or <c>null</c> when nothing is.</summary>
    public static string? Check(string? id, string? address, int weight, int maxInFlight)
    {
        var errors = new List<string>();
        if (!IsValidId(id))
        {
            errors.Add("'id' is required: letters, digits, '.', '_' and '-' (1–64 characters).");
        }

        if (!IsValidAddress(address))
        {
            errors.Add($"'address' must be an absolute http or https URL (was '{address}').");
        }

        if (weight is < MinWeight or > MaxWeight)
        {
            errors.Add($"'weight' must be between {MinWeight} and {MaxWeight} (was {weight}).");
        }

        if (maxInFlight < 0)
        {
            errors.Add($"'maxInFlight' must be 0 (no limit) or more (was {maxInFlight}).");
        }

        return errors.Count == 0 ? null : string.Join(" ", errors);
    }
}
