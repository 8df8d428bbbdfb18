using System.Collections.Frozen;
using System.Security.Cryptography;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.SessionKeys;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pools;

/// <summary>The gateway's pools, built once from validated configuration.</summary>
internal sealed partial class PoolRegistry
{
    private readonly FrozenDictionary<string, PoolRuntime> _pools;

    public PoolRegistry(IOptions<BalancerOptions> options, TimeProvider time, ILogger<PoolRegistry> logger)
    {
        var balancer = options.Value;
        GatewayId = string.IsNullOrWhiteSpace(balancer.GatewayId)
            ? $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}"
            : balancer.GatewayId;

        if (!SigningKeys.TryDecode(balancer.Cookies.SigningKey, out var key))
        {
            key = RandomNumberGenerator.GetBytes(32);
            if (balancer.Pools.Values.Any(p => SessionKeySourceFactory.Parse(p.SessionKey).Kind == SessionKeyKind.Cookie))
            {
                LogEphemeralCookieKey(logger);
            }
        }

        var previous = balancer.Cookies.PreviousSigningKeys.Select(k => SigningKeys.TryDecode(k, out var bytes) ? bytes : throw new InvalidOperationException("Validated at start-up."));
        var protector = new SessionCookieProtector(key, previous);
        _pools = balancer.Pools.ToFrozenDictionary(
            p => p.Key,
            p =>
            {
                var source = SessionKeySourceFactory.Create(SessionKeySourceFactory.Parse(p.Value.SessionKey), p.Key, balancer.MaxSessionKeyLength, protector, balancer.Cookies.SameSite, balancer.PinCache.ConfirmInterval);
                return new PoolRuntime(p.Key, p.Value, source, balancer.PinCache, time);
            },
            StringComparer.Ordinal);
    }

    /// <summary>This gateway's id in load reports.</summary>
    public string GatewayId { get; }

    public IEnumerable<PoolRuntime> All => _pools.Values;

    public PoolRuntime? Find(string pool) => _pools.GetValueOrDefault(pool);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Balancer:Cookies:SigningKey is not set: session cookies are signed with a random per-process key, so they are not accepted by other gateways or after a restart. Set the same key on every gateway.")]
    private static partial void LogEphemeralCookieKey(ILogger logger);
}
