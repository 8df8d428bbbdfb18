using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using System.Text.RegularExpressions;
using Distributed.Gateway.Configuration;
using Xunit.Abstractions;

namespace Distributed.Gateway.Tests;

/// <summary>
/// The gateway's folders form layers: no folder under <c>src/Gateway</c> depends on a folder that depends on it back,
/// directly or round a longer loop. A folder is a namespace (checked here), and a folder depends on another when one of
/// its types refers to one of the other's in compiled code (signatures, fields, locals, every call, field access and
/// type token in method bodies, so a dependency hidden behind <c>var</c> counts too) or when one of its files imports
/// the other's namespace. Run with <c>--logger "console;verbosity=detailed"</c> to see the whole graph.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class FolderDependencyTests(ITestOutputHelper output)
{
    private const string RootNamespace = "Distributed.Gateway";
    private const string Root = "(root)";

    private static readonly Assembly Gateway = typeof(BalancerOptions).Assembly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    [Fact]
    public void EveryFile_DeclaresTheNamespaceOfItsFolder()
    {
        var wrong = SourceFiles()
            .Select(file => (file.Folder, file.Path, Declared: NamespaceDeclaration().Match(file.Text)))
            .Where(f => f.Declared.Success && f.Declared.Groups[1].Value != Namespace(f.Folder))
            .Select(f => $"{f.Path} declares {f.Declared.Groups[1].Value}, expected {Namespace(f.Folder)}")
            .ToList();

        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    [Fact]
    public void Folders_DependOnEachOtherWithoutCycles()
    {
        var graph = Dependencies();
        output.WriteLine(Describe(graph));
        var cycles = StronglyConnected(graph).Where(c => c.Count > 1).ToList();

        Assert.True(cycles.Count == 0, "Folders under src/Gateway that depend on each other:\n" + string.Join('\n', cycles.Select(c => Describe(graph, c))));
    }

    [Fact]
    public void DependencyGraph_SeesReferencesInMethodBodiesAndImports()
    {
        // Guards the test above against seeing nothing: known dependencies of each kind must be found.
        var graph = Dependencies();

        Assert.Contains("SessionRoutingMiddleware", graph["Routing"]["Pinning"]); // a constructor parameter and calls
        Assert.Contains("using Distributed.Gateway.Configuration", graph["Pools"]["Configuration"]); // an import
        Assert.Contains(graph[Root].Keys, folder => folder == "Routing"); // the composition root registers everything
    }

    // folder -> folder it depends on -> what makes it depend (type names, imports)
    private static Dictionary<string, Dictionary<string, SortedSet<string>>> Dependencies()
    {
        var graph = new Dictionary<string, Dictionary<string, SortedSet<string>>>(StringComparer.Ordinal);
        void Add(string from, string to, string why)
        {
            if (from == to)
            {
                return;
            }

            var edges = graph.TryGetValue(from, out var e) ? e : graph[from] = new(StringComparer.Ordinal);
            (edges.TryGetValue(to, out var reasons) ? reasons : edges[to] = new(StringComparer.Ordinal)).Add(why);
        }

        foreach (var type in Gateway.GetTypes())
        {
            if (Folder(type) is not { } from)
            {
                continue;
            }

            graph.TryAdd(from, new(StringComparer.Ordinal));
            foreach (var referenced in ReferencedTypes(type))
            {
                if (Folder(referenced) is { } to)
                {
                    Add(from, to, Outermost(type).Name);
                }
            }
        }

        foreach (var file in SourceFiles())
        {
            foreach (Match import in Import().Matches(file.Text))
            {
                Add(file.Folder, import.Groups[1].Value.Split('.')[0], $"using {RootNamespace}.{import.Groups[1].Value}");
            }
        }

        return graph;
    }

    private static IEnumerable<Type> ReferencedTypes(Type type)
    {
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var found = new List<Type?> { type.BaseType };
        found.AddRange(type.GetInterfaces());
        found.AddRange(type.GetFields(Declared).Select(f => f.FieldType));
        found.AddRange(type.GetProperties(Declared).Select(p => p.PropertyType));
        found.AddRange(type.GetEvents(Declared).Select(e => e.EventHandlerType));
        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (method is MethodInfo info)
            {
                found.Add(info.ReturnType);
            }

            found.AddRange(method.GetParameters().Select(p => p.ParameterType));
            if (method.GetMethodBody() is { } body)
            {
                found.AddRange(body.LocalVariables.Select(l => l.LocalType));
                found.AddRange(BodyReferences(method, body.GetILAsByteArray() ?? []));
            }
        }

        return found.OfType<Type>().SelectMany(Constituents);
    }

    // Every type, field and method token in the IL, as the types it names.
    private static IEnumerable<Type?> BodyReferences(MethodBase method, byte[] il)
    {
        var typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            var code = OpCodesByValue[il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at]];
            at += code.Size;
            switch (code.OperandType)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                    var member = method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments);
                    yield return member as Type ?? member?.DeclaringType;
                    if (member is MethodInfo called)
                    {
                        yield return called.ReturnType;
                        foreach (var argument in called.IsGenericMethod ? called.GetGenericArguments() : [])
                        {
                            yield return argument;
                        }
                    }
                    else if (member is FieldInfo field)
                    {
                        yield return field.FieldType;
                    }

                    at += 4;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + (4 * BitConverter.ToInt32(il, at));
                    break;
                default:
                    at += code.OperandType switch
                    {
                        OperandType.InlineNone => 0,
                        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                        OperandType.InlineVar => 2,
                        OperandType.InlineI8 or OperandType.InlineR => 8,
                        _ => 4,
                    };
                    break;
            }
        }
    }

    // A type and everything it is built from: element types, generic arguments.
    private static IEnumerable<Type> Constituents(Type type)
    {
        if (type.HasElementType)
        {
            return Constituents(type.GetElementType()!);
        }

        return type.IsConstructedGenericType
            ? type.GetGenericArguments().SelectMany(Constituents).Append(type.GetGenericTypeDefinition())
            : [type];
    }

    private static Type Outermost(Type type) => type.DeclaringType is { } declaring ? Outermost(declaring) : type;

    // The folder of a gateway type (compiler-made types count for the type they belong to); null for other types.
    private static string? Folder(Type type)
    {
        if (type.IsGenericParameter)
        {
            return null;
        }

        var ns = Outermost(type).Namespace;
        return ns == RootNamespace ? Root
            : ns is not null && ns.StartsWith(RootNamespace + ".", StringComparison.Ordinal) && Outermost(type).Assembly == Gateway ? ns[(RootNamespace.Length + 1)..].Split('.')[0]
            : null;
    }

    private static string Namespace(string folder) => folder == Root ? RootNamespace : $"{RootNamespace}.{folder.Replace('/', '.')}";

    private static IEnumerable<(string Folder, string Path, string Text)> SourceFiles()
    {
        var source = Path.Combine(RepositoryRoot(), "src", "Gateway");
        return Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Select(path => (Relative: Path.GetRelativePath(source, path).Replace('\\', '/'), Path: path))
            .Where(f => !f.Relative.StartsWith("bin/", StringComparison.Ordinal) && !f.Relative.StartsWith("obj/", StringComparison.Ordinal))
            .Select(f => (f.Relative.Contains('/', StringComparison.Ordinal) ? f.Relative[..f.Relative.LastIndexOf('/')] : Root, f.Relative, File.ReadAllText(f.Path)));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Distributed.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Distributed.sln above {AppContext.BaseDirectory}.");
    }

    // Tarjan's algorithm: the groups of folders that all reach each other.
    private static List<List<string>> StronglyConnected(Dictionary<string, Dictionary<string, SortedSet<string>>> graph)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var groups = new List<List<string>>();
        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            foreach (var next in graph.GetValueOrDefault(node)?.Keys ?? Enumerable.Empty<string>())
            {
                if (!index.TryGetValue(next, out var visited))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (stack.Contains(next))
                {
                    low[node] = Math.Min(low[node], visited);
                }
            }

            if (low[node] == index[node])
            {
                var group = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    group.Add(member);
                }
                while (member != node);
                groups.Add(group);
            }
        }

        foreach (var node in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }

        return groups;
    }

    private static string Describe(Dictionary<string, Dictionary<string, SortedSet<string>>> graph, IReadOnlyCollection<string>? only = null)
    {
        var text = new StringBuilder();
        foreach (var (from, edges) in graph.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            foreach (var (to, reasons) in edges.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                if (only is null || (only.Contains(from) && only.Contains(to)))
                {
                    text.AppendLine($"  {from} -> {to}: {string.Join(", ", reasons)}");
                }
            }
        }

        return text.ToString();
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"^using\s+Distributed\.Gateway\.([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex Import();
}
