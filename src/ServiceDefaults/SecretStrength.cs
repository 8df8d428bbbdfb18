namespace Distributed.ServiceDefaults;

/// <summary>
/// Start-up checks of configured secrets (API keys, passwords): long enough to resist guessing, and never the
/// placeholder values the deployment manifests ship with.
/// </summary>
public static class SecretStrength
{
    /// <summary>The fewest bits of key a secret must carry.</summary>
    public const int MinimumBits = 128;

    /// <summary>
    /// The marker every placeholder in <c>deploy/</c> carries (<c>change-me-…</c>); a secret containing it was not
    /// replaced before the manifests were applied.
    /// </summary>
    public const string PlaceholderMarker = "change-me";

    /// <summary>
    /// Bits a secret can carry at most, judged by its alphabet: 4 per character when it is all hexadecimal digits
    /// (<c>openssl rand -hex</c>), otherwise 6 (base64 and anything wider). Not an entropy measure: it only refuses
    /// what is certainly too short.
    /// </summary>
    public static int Bits(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return secret.Length * (secret.All(char.IsAsciiHexDigit) ? 4 : 6);
    }

    /// <summary>Whether <paramref name="secret"/> is one of the manifests' placeholders.</summary>
    public static bool IsPlaceholder(string secret) =>
        secret?.Contains(PlaceholderMarker, StringComparison.OrdinalIgnoreCase) ?? throw new ArgumentNullException(nameof(secret));

    /// <summary>
    /// Why <paramref name="secret"/>, the value of configuration key <paramref name="key"/>, is refused: a placeholder,
    /// or fewer than <see cref="MinimumBits"/> bits; <c>null</c> when it is acceptable.
    /// </summary>
    public static string? Problem(string key, string secret)
    {
        if (IsPlaceholder(secret))
        {
            return $"{key} is the placeholder value from the deployment manifests ('{PlaceholderMarker}…'); generate a secret, e.g. openssl rand -hex 16.";
        }

        var bits = Bits(secret);
        return bits < MinimumBits
            ? $"{key} is too short: at most {bits} bits, and at least {MinimumBits} are required (32 hexadecimal or 22 base64 characters; e.g. openssl rand -hex 16)."
            : null;
    }
}
